"""The SDK's local mode reads the batch server's /execution-parameters and splits a file with its own code.

Its `_LocalTransformJob` copies BatchStrategy and MaxPayloadInMB verbatim from /execution-parameters, fills
the rest with its defaults, and fails the job ("Invalid Batch Strategy") for a strategy other than
SingleRecord/MultiRecord; then its LineSplitter and batch strategy cut the file, and AssembleWith=Line
writes a newline after each response. The same functions run here, in the SDK's venv, against
`scripts/serve` on 127.0.0.1 (no Docker: the container itself is the conformance tier's Transformer test).
Differences from the platform the test names: one request at a time (SAGEMAKER_MAX_CONCURRENT_TRANSFORMS=1),
sizes measured as Python string sizes, a newline per response rather than per record.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from serve_process import REPO, Server, serving_tree

pytestmark = pytest.mark.conformance
SDK_PYTHON = Path(os.environ.get("PIPELINES_PYTHON", REPO / ".venv-pipelines" / "bin" / "python"))

DRIVER = '''
import json, sys
import urllib3
from sagemaker.local import data, entities

port, infile, strategy = int(sys.argv[1]), sys.argv[2], sys.argv[3]
response, code = entities._perform_request(f"http://127.0.0.1:{port}/execution-parameters")
kwargs = {"BatchStrategy": strategy} if strategy else {}
if code == 200:  # as _LocalTransformJob.start does
    params = json.loads(response.data.decode("utf-8"))
    for setting in ("BatchStrategy", "MaxPayloadInMB"):
        if setting not in kwargs and setting in params:
            kwargs[setting] = params[setting]
kwargs.update(entities._LocalTransformJob._get_required_defaults(None, **kwargs))
provider = data.get_batch_strategy_instance(kwargs["BatchStrategy"], data.get_splitter_instance("Line"))
http, out, requests = urllib3.PoolManager(), b"", 0
for item in provider.pad(infile, int(kwargs["MaxPayloadInMB"])):
    r = http.request("POST", f"http://127.0.0.1:{port}/invocations", body=item,
                     headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    if r.status != 200:
        raise SystemExit(f"{r.status}: {r.data[:300]}")
    out += r.data + b"\\n"  # AssembleWith=Line
    requests += 1
open(infile + ".out", "wb").write(out)
print(json.dumps({"kwargs": kwargs, "requests": requests}))
'''


@pytest.fixture(scope="module")
def sdk_python():
    if not SDK_PYTHON.exists():
        pytest.skip(f"{SDK_PYTHON} is missing: `make pipelines-setup` installs the SageMaker SDK there")
    return SDK_PYTHON


@pytest.mark.parametrize("strategy", ["", "SingleRecord"])
def test_local_mode_reads_the_parameters_and_gets_the_real_time_scores(sdk_python, tmp_path, model_dir, model,
                                                                       rows, handler, strategy):
    infile = tmp_path / "test.csv"
    frame = rows[list(model.schema.features)] if not strategy else rows[list(model.schema.features)].head(40)
    frame.to_csv(infile, index=False, header=False)
    (tmp_path / "driver.py").write_text(DRIVER)
    srv = Server(serving_tree(tmp_path / "base", model_dir), SAGEMAKER_BATCH="True")  # local mode's spelling
    try:
        srv.wait_for(200)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run([str(sdk_python), str(tmp_path / "driver.py"), str(srv.port), str(infile), strategy],
                              capture_output=True, text=True, env=env, timeout=600)
    finally:
        srv.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if strategy:
        assert result["kwargs"] == {"BatchStrategy": "SingleRecord", "MaxPayloadInMB": 50}
        assert result["requests"] == len(frame)
    else:  # no strategy from the server: local mode's own default, not a failed job
        assert result["kwargs"] == {"BatchStrategy": "MultiRecord", "MaxPayloadInMB": 50}
    got = (tmp_path / "test.csv.out").read_text().split("\n")[:-1]
    assert got == handler.invocations("text/csv", "text/csv", infile.read_bytes()).body.decode().splitlines()
