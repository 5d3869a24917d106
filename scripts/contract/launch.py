"""`train` as the image runs it: the sagemaker-training toolkit, with SIGTERM reaching the script.

The toolkit forwards no signals: on SIGTERM (spot interruption, StopTrainingJob) it dies
and the training script never hears of it. Here the toolkit and everything it starts run
in their own process group with SIGTERM ignored by default; the script installs its own
handler (contract.step), and this launcher forwards SIGTERM to the whole group, so the
script checkpoints and exits while the toolkit stays alive to report how it ended.

    python3 -m contract.launch     (what the image's `train` runs)

Training's OpenMP threads (HistGradientBoosting uses SM_NUM_CPUS of them) wait passively
(OMP_WAIT_POLICY=PASSIVE unless set): spinning threads on a host whose cores are busy with
anything else were ruinous here, a 2-thread fit of 50 iterations on 14,000 x 300 took 129 s
spinning and 14 s passive (1 thread: 6 s) on a shared 2-core machine (load about 6). Passive
waiting costs a wake-up per parallel region instead: negligible against a tree's histograms.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    def ignore_sigterm() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    toolkit = subprocess.Popen(
        [sys.executable, "-m", "sagemaker_training.cli.train", *argv],
        start_new_session=True,
        preexec_fn=ignore_sigterm,
        env={"OMP_WAIT_POLICY": "PASSIVE", **os.environ},
    )

    def forward(signum, frame):  # noqa: ARG001 - signal handler signature
        try:
            os.killpg(toolkit.pid, signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = toolkit.wait()
    return 128 - code if code < 0 else code  # killed by signal N: exit 128 + N, as a shell reports it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
