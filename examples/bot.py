"""A Worksection bot: answers "@bot status" comments with a summary of the task's subtasks.

It learns about new comments with ``client.events.watch()`` (polling, for programs
that cannot receive webhooks) and replies with ``post_comment``. Its position is kept
in a SQLite ``EventStore`` (``BOT_DB``, default ``bot-events.db``): stopped with Ctrl-C
or killed, it starts again where it was, answers what was asked meanwhile, and answers
nothing twice but the comment it was answering when it stopped.

Against the built-in fake (no account, no network; runs to completion)::

    python examples/bot.py

Against your account (runs until Ctrl-C)::

    WORKSECTION_URL=https://acme.worksection.com WORKSECTION_API_KEY=... python examples/bot.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile

from worksection_async import Client, ClientEvent, ResponseReceived, SubtaskPage, TaskPage
from worksection_async.models import Event, Task
from worksection_async.testing import FakeWorksection
from worksection_async.webhooks import EventStore

MENTION = "@bot"


def summarize(task: Task) -> str:
    """``Release 2.0: 1 of 3 subtasks done`` and one line per subtask."""
    subtasks = task.child or ()
    if not subtasks:
        return f"{task.name}: no subtasks."
    done = sum(1 for subtask in subtasks if subtask.status == "done")
    lines = [f"{task.name}: {done} of {len(subtasks)} subtasks done"]
    lines += [f"[{'x' if s.status == 'done' else ' '}] {s.name}" for s in subtasks]
    return "\n".join(lines)


async def answer(client: Client, event: Event) -> bool:
    """Reply to a new comment that says "@bot status"; True if it did."""
    if event.action != "post" or event.object.type != "comment":
        return False
    text = (event.new or {}).get("text")
    if not isinstance(text, str) or f"{MENTION} status" not in text.lower():
        return False
    page = event.object.page  # a comment event carries its task's page
    if not isinstance(page, (TaskPage, SubtaskPage)):
        return False
    task = await client.task(page).get(extra="subtasks")
    await client.task(page).post_comment(summarize(task))
    return True


async def run_bot(
    client: Client, store: EventStore, *, every: float = 60.0, replies: int | None = None
) -> int:
    """Watch the account's events and answer; stop after ``replies`` answers (None: never).

    An event counts as done when the loop asks for the next one: the store then saves
    the position, so a restart resumes after the last answered comment."""
    answered = 0
    async with client.events.watch(every=every, store=store, name="bot") as events:
        async for event in events:
            if await answer(client, event):
                answered += 1
                print(f"answered on {event.object.page}")
                if replies is not None and answered >= replies:
                    break
    return answered


async def demo() -> None:
    """The bot against a fake account: a member asks, the bot answers."""
    fake = FakeWorksection()
    ann = fake.add_user("ann@example.com", "Ann", "Lee")
    project = fake.add_project("Launch")
    task = fake.add_task(project, "Release 2.0")
    for name, status in (
        ("Changelog", "done"),
        ("Tag the release", "active"),
        ("Announce", "active"),
    ):
        fake.add_task(project, name, parent=task, status=status)

    watching = asyncio.Event()  # set once the bot's first get_events has been answered

    def on_event(event: ClientEvent) -> None:
        if isinstance(event, ResponseReceived) and event.action == "get_events":
            watching.set()

    async def member_asks() -> None:
        await watching.wait()
        fake.call("post_comment", page=task.page, text="@bot status please", as_user=ann)

    with tempfile.TemporaryDirectory() as folder:
        async with (
            Client(
                fake.account_url, fake.api_key, transport=fake.transport, on_event=on_event
            ) as client,
            EventStore.from_url(f"sqlite:///{folder}/bot.db") as store,
        ):
            asker = asyncio.create_task(member_asks())
            await run_bot(client, store, every=1.0, replies=1)
            await asker
    reply = max(fake.comments.values(), key=lambda comment: comment.id)
    print(reply.text)


async def main() -> None:
    if not os.environ.get("WORKSECTION_URL"):
        await demo()
        return
    store = EventStore.from_url(f"sqlite:///{os.environ.get('BOT_DB', 'bot-events.db')}")
    async with Client.from_env() as client, store:  # WORKSECTION_URL, WORKSECTION_API_KEY
        await run_bot(client, store)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # Ctrl-C: stop quietly, as a command does
        raise SystemExit(130) from None
