"""physynth.torch.FeedDataset: a torch.utils.data.IterableDataset over a scenario's training
windows, computed on the fly. Each DataLoader worker computes its own shards of the scenario
(shard k goes to worker k mod workers), so no window appears twice and none is missed:

    ds = physynth.torch.FeedDataset("scenarios/manufacturing/bearing_fleet.yaml", split="train")
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    for x, y, meta in loader: ...

Batches are of feed.batch_size windows within one shard (batch_size=None in the DataLoader:
they come batched). Each worker loads the scenario itself and computes on one thread.
"""
import torch as _torch

from . import _load, _physynth, _reloaded, _scenario


class FeedDataset(_torch.utils.data.IterableDataset):
    def __init__(self, scenario, split="train", set=None, batch_size=None, window=None, threads=1):
        super().__init__()
        s = _scenario(scenario, set)
        if window is not None:
            s = _reloaded(s, {"feed.window": window})
        # Workers reload the scenario from its file and overrides (C++ objects are not shared).
        self.file, self.overrides = s.file, s.overrides
        self.split = split
        self.batch_size = batch_size or s.feed_batch_size
        self.threads = threads
        self.num_shards = _physynth.Generator(s._handle, 1).num_shards

    def __iter__(self):
        info = _torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        generator = _physynth.Generator(_load(self.file, self.overrides)._handle, self.threads)
        for shard in range(worker, self.num_shards, workers):
            w = generator.windows(shard, self.split)
            n = len(w["y"])
            for start in range(0, n, self.batch_size):
                end = min(n, start + self.batch_size)
                meta = {k: _torch.from_numpy(w[k][start:end]) for k in ("sample", "time", "reading")}
                yield _torch.from_numpy(w["x"][start:end]), _torch.from_numpy(w["y"][start:end]), meta
