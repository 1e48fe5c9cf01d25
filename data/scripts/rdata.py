"""Read character vectors from an R package's lazy-load data base (data/Rdata.rdx + Rdata.rdb),
without R: enough of R's XDR serialisation format (versions 2 and 3) to decode the vectors,
lists, pairlists, symbols and attributes that data sets use. Used to read Jane Austen's novels
from r-cran-janeaustenr (six character vectors, one line of text per element).

Layout: the .rdx is a gzip'd serialised list whose "variables" element maps each data set name
to (offset, length) in the .rdb; each .rdb record is a 4-byte big-endian uncompressed size and a
zlib stream holding one serialised object. Anything this reader does not know (closures,
environments, ALTREP, bytecode) raises ValueError rather than guessing.
"""
import gzip
import struct
import zlib

NILSXP, SYMSXP, LISTSXP, CHARSXP, LGLSXP, INTSXP = 0, 1, 2, 9, 10, 13
REALSXP, STRSXP, VECSXP, EXPRSXP = 14, 16, 19, 20
REFSXP, NILVALUE_SXP, GLOBALENV_SXP, EMPTYENV_SXP, BASEENV_SXP = 255, 254, 253, 242, 241
MISSINGARG_SXP, BASENAMESPACE_SXP = 251, 250


class _Reader:
    def __init__(self, data):
        if data[:2] != b"X\n":
            raise ValueError("not an R XDR serialisation (header %r)" % data[:2])
        self.data, self.pos, self.refs = data, 2, []
        version = self.int()
        self.int()  # R version that wrote it
        self.int()  # minimal R version to read it
        if version == 3:
            n = self.int()  # then the native encoding's name
            self.pos += n
        elif version != 2:
            raise ValueError("unsupported R serialisation version %d" % version)

    def int(self):
        (v,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return v

    def length(self):
        n = self.int()
        if n == -1:
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        return n

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if kind in (NILVALUE_SXP, GLOBALENV_SXP, EMPTYENV_SXP, BASEENV_SXP, MISSINGARG_SXP,
                    BASENAMESPACE_SXP):
            return None
        if kind == REFSXP:
            index = flags >> 8 or self.int()
            return self.refs[index - 1]
        if kind == SYMSXP:
            name = self.item()
            self.refs.append(name)
            return name
        if kind == LISTSXP:  # a pairlist cell, returned as [(tag, value), ...]
            if has_attr:
                self.item()  # the cell's own attributes: not needed
            tag = self.item() if has_tag else None
            car, cdr = self.item(), self.item()
            return [(tag, car)] + (cdr or [])
        if kind == CHARSXP:
            n = self.int()
            if n == -1:
                return None
            s = self.data[self.pos:self.pos + n].decode("utf-8", "replace")
            self.pos += n
            return s
        if kind in (LGLSXP, INTSXP):
            n = self.length()
            v = list(struct.unpack_from(">%di" % n, self.data, self.pos))
            self.pos += 4 * n
        elif kind == REALSXP:
            n = self.length()
            v = list(struct.unpack_from(">%dd" % n, self.data, self.pos))
            self.pos += 8 * n
        elif kind in (STRSXP, VECSXP, EXPRSXP):
            v = [self.item() for _ in range(self.length())]
        else:
            raise ValueError("R object type %d is not supported by this reader" % kind)
        if has_attr:
            attrs = dict(self.item() or [])  # pairlist of (tag, value)
            if kind == VECSXP and attrs.get("names"):
                return dict(zip(attrs["names"], v))  # a named list
        return v


def unserialize(data):
    return _Reader(data).item()


def read_lazyload_db(prefix):
    """Return {name: object} for every data set in PREFIX.rdx / PREFIX.rdb."""
    with gzip.open(prefix + ".rdx", "rb") as f:
        variables = unserialize(f.read())["variables"]
    with open(prefix + ".rdb", "rb") as f:
        rdb = f.read()
    out = {}
    for name, (offset, length) in sorted(variables.items()):
        blob = rdb[int(offset):int(offset) + int(length)]
        (size,) = struct.unpack_from(">I", blob, 0)
        raw = zlib.decompress(blob[4:])
        if len(raw) != size:
            raise ValueError("%s.rdb: record %s is %d bytes, expected %d"
                             % (prefix, name, len(raw), size))
        out[name] = unserialize(raw)
    return out
