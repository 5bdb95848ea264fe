"""The run's slots of parallelism, shared by the event loop and the worker threads."""

from __future__ import annotations

import asyncio
import threading

from hera_utils.local.slots import ProcessSlots


class _Requests:
    """Start requests as `executors` makes them: run at once when they have a slot, or when
    the loop frees one for them (`submit`)."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.slots: ProcessSlots[str] = ProcessSlots(0, self.submit)

    def submit(self, request: str) -> None:
        self.submitted.append(request)

    def request(self, request: str) -> None:
        if self.slots.request(request):
            self.submitted.append(request)


def test_requests_beyond_the_limit_wait_in_line_and_each_freed_slot_goes_to_the_next():
    requests = _Requests()
    slots = requests.slots = ProcessSlots(2, requests.submit)
    for name in ("a", "b", "c", "d"):
        requests.request(name)

    assert requests.submitted == ["a", "b"]
    # The worker thread of a's process takes c itself: nothing more is submitted.
    assert slots.pass_on() == (True, "c")
    assert slots.pass_on() == (True, "d")
    # Nobody waits: c's slot stays taken until the loop has recorded c's end.
    assert slots.pass_on() == (False, None)
    requests.request("e")
    assert requests.submitted == ["a", "b"]
    slots.release()
    assert requests.submitted == ["a", "b", "e"]
    slots.release()
    requests.request("f")
    requests.request("g")
    assert requests.submitted == ["a", "b", "e", "f"]


def test_a_withdrawn_request_never_gets_a_slot_and_one_already_given_cannot_be_withdrawn():
    requests = _Requests()
    slots = requests.slots = ProcessSlots(1, requests.submit)
    requests.request("running")
    requests.request("waiting")

    assert slots.withdraw("waiting")
    assert not slots.withdraw("running")
    assert slots.pass_on() == (False, None)  # nobody is left in line
    slots.release()  # the loop has recorded the end: the slot is free again
    requests.request("next")
    assert requests.submitted == ["running", "next"]


def test_the_loop_holding_a_slot_waits_in_line_with_the_requests_and_in_their_order():
    async def scenario() -> list[str]:
        requests = _Requests()
        slots = requests.slots = ProcessSlots(1, requests.submit)
        requests.request("first")
        requests.request("second")
        holder = asyncio.ensure_future(slots.acquire())
        await asyncio.sleep(0)  # in line now
        requests.request("third")
        assert not holder.done()
        # first's process ends in a worker thread, which takes second
        assert await asyncio.to_thread(slots.pass_on) == (True, "second")
        assert not holder.done()
        # second's ends: the slot goes to the loop, woken from that thread
        assert await asyncio.to_thread(slots.pass_on) == (True, None)
        await asyncio.wait_for(holder, 5)
        slots.release()  # the loop is done with it: third goes to a worker
        return requests.submitted

    assert asyncio.run(scenario()) == ["first", "third"]


def test_a_cancelled_wait_for_a_slot_leaves_the_line_and_a_slot_given_meanwhile_is_returned():
    async def scenario() -> None:
        requests = _Requests()
        slots = requests.slots = ProcessSlots(1, requests.submit)
        requests.request("running")
        waiting = asyncio.ensure_future(slots.acquire())
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        assert slots.pass_on() == (False, None)  # the cancelled holder left the line
        slots.release()
        requests.request("later")
        assert requests.submitted == ["running", "later"]

        # Given from a worker thread just as the wait is cancelled: handed back, not lost.
        granted = asyncio.ensure_future(slots.acquire())
        await asyncio.sleep(0)
        given = threading.Thread(target=slots.pass_on)
        given.start()
        given.join()
        granted.cancel()
        await asyncio.gather(granted, return_exceptions=True)
        requests.request("after")
        assert requests.submitted == ["running", "later", "after"]

    asyncio.run(scenario())
