"""EFX1: the binary tensor-bundle format of the model parity fixtures (write and read).

Layout, little-endian:
    magic  "EFX1" (4 bytes)
    uint32 tensor count
    per tensor:
        uint16 name length, name bytes (UTF-8, no terminator)
        uint8  dtype (0 = float32, 1 = int32)
        uint8  ndim
        int64  dims[ndim]
        values: numel x 4 bytes, row-major
Must never write anything but float32/int32, nor accept a truncated or trailing-garbage file.
"""
import struct

import torch

MAGIC = b"EFX1"
F32, I32 = 0, 1


def write(path, tensors):
    """tensors: list of (name, tensor); floating tensors are stored as float32, integer
    tensors as int32 (values must fit)."""
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<I", len(tensors)))
        for name, t in tensors:
            t = t.detach().cpu().contiguous()
            if t.dtype.is_floating_point:
                code, t = F32, t.to(torch.float32)
            else:
                if t.numel() and (int(t.min()) < -2**31 or int(t.max()) >= 2**31):
                    raise ValueError("%s: values do not fit int32" % name)
                code, t = I32, t.to(torch.int32)
            nb = name.encode("utf-8")
            f.write(struct.pack("<H", len(nb)) + nb + struct.pack("<BB", code, t.dim()))
            f.write(struct.pack("<%dq" % t.dim(), *t.shape))
            f.write(t.numpy().astype("<f4" if code == F32 else "<i4").tobytes())


def read(path):
    """-> dict name -> tensor (float32 or int32), in file order."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != MAGIC:
        raise ValueError("%s: not an EFX1 file" % path)
    (n,) = struct.unpack_from("<I", data, 4)
    off, out = 8, {}
    for _ in range(n):
        (ln,) = struct.unpack_from("<H", data, off)
        name = data[off + 2:off + 2 + ln].decode("utf-8")
        off += 2 + ln
        code, nd = struct.unpack_from("<BB", data, off)
        off += 2
        dims = struct.unpack_from("<%dq" % nd, data, off)
        off += 8 * nd
        numel = 1
        for x in dims:
            numel *= x
        if code not in (F32, I32) or off + 4 * numel > len(data):
            raise ValueError("%s: bad tensor %s" % (path, name))
        dt = torch.float32 if code == F32 else torch.int32
        out[name] = torch.frombuffer(bytearray(data[off:off + 4 * numel]), dtype=dt).reshape(dims)
        off += 4 * numel
    if off != len(data):
        raise ValueError("%s: %d trailing bytes" % (path, len(data) - off))
    return out
