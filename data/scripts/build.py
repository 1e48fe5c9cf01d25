"""Dataset builder dispatcher: `/usr/bin/python3 build.py TASK OUT_DIR`.

Called by build.sh after it has installed the Debian packages TASK needs; writes the six aligned
split files and stats.txt into OUT_DIR (which must exist) and prints one summary line. Standard
library only: it must run on Debian's own python3 on a fresh machine.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TASKS = {
    "kjv-web": "task_bible",
    "web-es": "task_bible",
    "desc-sum": "task_desc_sum",
    "en-de": "task_en_de",
    "gec": "task_gec",
}


def main(argv):
    if len(argv) != 3 or argv[1] not in TASKS:
        sys.stderr.write("usage: build.py {%s} OUT_DIR\n" % ",".join(TASKS))
        return 2
    task, out_dir = argv[1], argv[2]
    start = time.time()
    module = __import__(TASKS[task])
    try:
        counts = module.build(task, out_dir)
    except (OSError, RuntimeError, ValueError, subprocess.CalledProcessError) as e:
        sys.stderr.write("error: %s: %s\n" % (task, e))
        return 1
    print("%s: train %d valid %d test %d pairs (%.1f s)"
          % (task, counts["train"], counts["valid"], counts["test"], time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
