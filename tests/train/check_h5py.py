"""tests/train/check_h5py.py: reads an edgeformer checkpoint with h5py exactly as
docs/checkpoints.md tells users to, and checks its layout. Run by test_checkpoint (skipped when
h5py is missing). It must never modify the file (opened read-only).

usage: check_h5py.py CKPT N_PARAMS N_ALIASES EMBED_W0 EMBED_W1 NUM_UPDATES
"""
import sys

import h5py
import numpy as np


def main():
    path, n_params, n_aliases, w0, w1, num_updates = sys.argv[1:7]
    with h5py.File(path, "r") as f:
        # fixed-length strings: h5py returns bytes
        assert f.attrs["format"].decode() == "edgeformer-checkpoint", f.attrs["format"]
        assert int(f.attrs["version"]) == 1
        config = f["config"][()].decode("utf-8")
        assert config.startswith("[model]"), config[:40]
        params = {k: f["params"][k] for k in f["params"]}
        assert len(params) == int(n_params), (len(params), n_params)
        for k, d in params.items():
            assert d.dtype == np.float32, (k, d.dtype)
            assert np.isfinite(d[()]).all(), k
            for g in ("exp_avg", "exp_avg_sq"):
                assert f["optimizer"][g][k].shape == d.shape, (g, k)
        emb = f["params/encoder.embed_tokens.weight"][()]
        assert emb.flat[0] == np.float32(w0) and emb.flat[1] == np.float32(w1), emb.flat[:2]
        aliases = {a.decode(): c.decode() for a, c in f["aliases"][()]}
        assert len(aliases) == int(n_aliases)
        for a, c in aliases.items():
            assert a not in params and c in params, (a, c)
        st = f["state"].attrs
        assert int(st["num_updates"]) == int(num_updates)
        assert st["seed"].dtype == np.uint64
        assert st["optimizer"].decode() == "adam"
    print("check_h5py: ok, %d parameters, %d aliases" % (len(params), len(aliases)))


if __name__ == "__main__":
    main()
