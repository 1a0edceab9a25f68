"""`modelwrap keys` killed while writing the key file leaves no temporary behind (it writes an
anonymous O_TMPFILE file and names it only just before the rename), and temporaries a killed
writer did leave (they hold key hashes) are removed by the next run."""
import json
import os
import resource
import signal
import subprocess

from auth_util import CLEAN_ENV, create_key, keys_cli
from conftest import BIN, ROOT


def temporaries(d):
    return sorted(n for n in os.listdir(d) if ".tmp." in n)


def test_killed_mid_write_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "keys.json")
    for i in range(8):
        create_key(path, "k%d" % i)
    before = open(path).read()
    assert len(before) > 1536

    def small_files():
        # writing past 1 KiB raises SIGXFSZ, which kills the writer mid-write
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    r = subprocess.run([BIN, "keys", "create", "--id", "victim", "--scopes", "predict",
                        "--file", path], cwd=ROOT, env=CLEAN_ENV, capture_output=True,
                       timeout=60, preexec_fn=small_files)
    assert r.returncode == -signal.SIGXFSZ, (r.returncode, r.stderr)
    assert temporaries(str(tmp_path)) == []
    assert open(path).read() == before  # the old file is intact


def test_stale_temporaries_are_removed_by_the_next_run(tmp_path):
    path = str(tmp_path / "keys.json")
    create_key(path, "first")
    stale = [tmp_path / "keys.json.tmp.Ab3xZ9", tmp_path / "keys.json.tmp.000000"]
    for s in stale:
        s.write_text('{"version": 1, "keys": [{"id": "half-writ')
    keep = [tmp_path / "keys.json.tmp.notmine", tmp_path / "other.json.tmp.Ab3xZ9"]
    for k in keep:
        k.write_text("not a temporary of this key file")
    create_key(path, "second")
    assert temporaries(str(tmp_path)) == sorted(k.name for k in keep)
    ids = [k["id"] for k in json.load(open(path))["keys"]]
    assert ids == ["first", "second"]
    r = keys_cli(path, "list")
    assert "second" in r.stdout
