"""OAuth2 server answers and the ``{id}`` answer of creates."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .._json import JSONValue
from ._base import extra_field

__all__ = ["Created", "OAuthUser", "TokenResponse"]


def _mask(value: str | None) -> str:
    return "None" if value is None else "'***'"


@attrs.frozen(kw_only=True)
class TokenResponse:
    """The token endpoint's answer (``/oauth2/token`` and ``/oauth2/refresh``).

    ``expires_in`` is in seconds (86400). ``account_url`` (only from ``token``) is the
    account the OAuth API must be called on. The tokens never appear in ``repr``.
    """

    token_type: str
    expires_in: int
    access_token: str = attrs.field(repr=_mask)
    refresh_token: str = attrs.field(repr=_mask)
    account_url: str | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class OAuthUser:
    """The resource owner (``/oauth2/resource``): who the access token belongs to."""

    id: int
    email: str
    first_name: str | None = None
    last_name: str | None = None
    account_url: str | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class Created:
    """The ``{"status": "ok", "id": N}`` answer of ``add_costs`` and ``add_webhook``."""

    id: int
    extra: Mapping[str, JSONValue] = extra_field()
