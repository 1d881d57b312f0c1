"""The service's batching of requests (bentos/service.py), with scoring stubbed: no model, no server.

A lone request is scored in its own task; requests received while a batch is gathered join it;
each gets its own answer or error, also when the request leading the batch goes away.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

import bentos.service as service


@pytest.fixture
def svc(monkeypatch):
    monkeypatch.setattr(service, "stale_flight_errors", lambda flights, *_: [])
    instance = object.__new__(service.DelayService.inner)
    instance.model = SimpleNamespace(state=SimpleNamespace(as_of_day=None))
    instance._queue, instance._draining, instance._drainer = [], False, None
    instance.batches = []

    def score(requests):
        instance.batches.append([flights for flights, _ in requests])
        if any("fail" in flights for flights, _ in requests):
            raise RuntimeError("scoring failed")
        return [(200, ",".join(flights).encode()) for flights, _ in requests]

    instance._score = score
    return instance


def test_a_lone_request_is_scored_alone(svc):
    assert asyncio.run(svc._submit(["a"], False)) == (200, b"a")
    assert svc.batches == [[["a"]]] and svc._queue == [] and not svc._draining


def test_requests_received_together_are_scored_in_one_batch(svc):
    async def main():
        return await asyncio.gather(*(svc._submit([name], False) for name in "abc"))

    assert asyncio.run(main()) == [(200, b"a"), (200, b"b"), (200, b"c")]
    assert svc.batches == [[["a"], ["b"], ["c"]]] and not svc._draining


def test_a_failed_batch_fails_each_of_its_requests(svc):
    async def main():
        calls = [svc._submit(["fail"], False), svc._submit(["b"], False)]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in results)
    assert asyncio.run(svc._submit(["c"], False)) == (200, b"c")  # and the next is served


def test_the_others_are_served_when_the_leading_request_is_cancelled(svc):
    async def main():
        leader = asyncio.ensure_future(svc._submit(["a"], False))
        followers = [asyncio.ensure_future(svc._submit([n], False)) for n in "bc"]
        await asyncio.sleep(0)  # the leader waits its turn; the others have joined its batch
        assert svc._draining and len(svc._queue) == 3
        leader.cancel()
        answers = await asyncio.gather(*followers)
        with pytest.raises(asyncio.CancelledError):
            await leader
        return answers

    assert asyncio.run(main()) == [(200, b"b"), (200, b"c")]
    assert svc.batches == [[["b"], ["c"]]] and svc._queue == [] and not svc._draining


def test_stale_flights_are_refused_before_the_queue(svc, monkeypatch):
    monkeypatch.setattr(service, "stale_flight_errors", lambda flights, *_: ["too old"])
    status, _ = asyncio.run(svc._submit(["a"], False))
    assert status == 422 and svc.batches == []
