"""Models: frozen attrs classes for every object the Worksection API answers with.

Turn a decoded payload into models with :func:`structure` (one cattrs converter)::

    from worksection_async.models import Task, structure, structure_list

    task = structure(answer["data"], Task)            # get_task
    tasks = structure_list(answer["data"], Task)      # get_all_tasks, get_tasks, ...

:data:`RESPONSE_MODELS` says which model each action answers with and where it sits
in the answer; :func:`structure_response` applies it to a whole answer.
:func:`astructure` and :func:`astructure_list` do what :func:`structure` and
:func:`structure_list` do, in time slices (:data:`SLICE_SECONDS`) with checkpoints
between them, so that a big answer does not hold the event loop.
:func:`unstructure` turns models back into JSON-ready data (dates as ISO strings,
``Decimal`` as strings, pages as paths, ``extra`` merged back) that structures into
equal models.

Conventions: field names are the API's keys (``from`` is ``from_``); string ids
become ``int``; ``max_time``, ``max_money``, ``money`` and ``rate`` become
:class:`~decimal.Decimal` (exact, never a binary float); dates become ``date`` /
``datetime`` (naive, as the API sends them) / ``time``; durations become
``timedelta``; links become page values; ``0``/``1`` flags become ``bool``. An
optional field that is absent, ``null`` or ``""`` is ``None``; keys a model does not
know are kept in its ``extra`` mapping. Lists inside models are tuples.
"""

from __future__ import annotations

from ._converter import (
    GC_PAUSE_MIN_ITEMS,
    INTERN_LIMIT,
    clear_intern_tables,
    structure,
    structure_list,
    structure_one,
)
from ._costs import (
    Cost,
    CostReport,
    CostTotal,
    CostTotals,
    MyTimer,
    ProjectCostTotal,
    TaskCostTotal,
    Timer,
)
from ._custom_fields import CustomField, CustomFieldValue
from ._errors import StructureError
from ._events import Event, EventObject, Webhook
from ._files import File, Upload
from ._members import Contact, ContactGroup, User, UserGroup, UserSchedule
from ._oauth import Created, OAuthUser, TokenResponse
from ._projects import Project, ProjectGroup, ProjectOptions
from ._refs import ANYONE_EMAIL, NOONE_EMAIL, FileRef, ProjectRef, TaskRef, UserRef
from ._responses import RESPONSE_MODELS, ResponseModel, structure_response
from ._slicing import SLICE_SECONDS, astructure, astructure_list
from ._tags import Tag, TagGroup
from ._tasks import Comment, Relation, Task, TaskRelations
from ._unstructure import unstructure

__all__ = [
    "ANYONE_EMAIL",
    "Comment",
    "Contact",
    "ContactGroup",
    "Cost",
    "CostReport",
    "CostTotal",
    "CostTotals",
    "Created",
    "CustomField",
    "CustomFieldValue",
    "Event",
    "EventObject",
    "File",
    "FileRef",
    "GC_PAUSE_MIN_ITEMS",
    "INTERN_LIMIT",
    "MyTimer",
    "NOONE_EMAIL",
    "OAuthUser",
    "Project",
    "ProjectCostTotal",
    "ProjectGroup",
    "ProjectOptions",
    "ProjectRef",
    "RESPONSE_MODELS",
    "Relation",
    "ResponseModel",
    "SLICE_SECONDS",
    "StructureError",
    "Tag",
    "TagGroup",
    "Task",
    "TaskCostTotal",
    "TaskRef",
    "TaskRelations",
    "Timer",
    "TokenResponse",
    "Upload",
    "User",
    "UserGroup",
    "UserRef",
    "UserSchedule",
    "Webhook",
    "astructure",
    "astructure_list",
    "clear_intern_tables",
    "structure",
    "structure_list",
    "structure_one",
    "structure_response",
    "unstructure",
]
