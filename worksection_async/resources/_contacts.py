"""Contacts (the address book) and their folders: ``client.contacts``."""

from __future__ import annotations

import attrs

from .._call import Call, ParamValue
from ..models import Contact, ContactGroup, structure_list, structure_one
from . import _render as r
from ._protocol import ClientLike

__all__ = ["ContactsNamespace"]


@attrs.frozen
class ContactsNamespace:
    """The address book: ``client.contacts``."""

    client: ClientLike = attrs.field(repr=False)

    async def add(
        self,
        email: str,
        name: str,
        *,
        title: str | None = None,
        group: str | None = None,
        phone: str | None = None,
        office_phone: str | None = None,
        mobile_phone: str | None = None,
        home_phone: str | None = None,
        address: str | None = None,
        address2: str | None = None,
    ) -> Contact:
        """Add a contact (``add_contact``; no invitation is sent). ``group`` is the
        folder's name; the phones are sent as ``phone``, ``phone2`` (office),
        ``phone3`` (mobile) and ``phone4`` (home)."""
        params: dict[str, ParamValue] = {
            "email": r.email("email", email),
            "name": r.title("name", name),
            "title": r.text("title", title),
            "group": r.text("group", group),
            "phone": r.text("phone", phone),
            "phone2": r.text("office_phone", office_phone),
            "phone3": r.text("mobile_phone", mobile_phone),
            "phone4": r.text("home_phone", home_phone),
            "address": r.text("address", address),
            "address2": r.text("address2", address2),
        }
        payload = await self.client.send(Call.build("add_contact", None, params))
        return structure_one(payload, Contact)

    async def groups(self) -> list[ContactGroup]:
        """Contact folders, the four presets included (``get_contact_groups``)."""
        payload = await self.client.send(Call.build("get_contact_groups"))
        return structure_list(payload, ContactGroup)

    async def add_group(self, title: str) -> ContactGroup:
        """Create a contact folder unless one has this name (``add_contact_group``)."""
        params = {"title": r.title("title", title)}
        payload = await self.client.send(Call.build("add_contact_group", None, params))
        return structure_one(payload, ContactGroup)

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(self) -> list[Contact]:
        """Every contact (``get_contacts``)."""
        return structure_list(await self.client.send(Call.build("get_contacts")), Contact)
