#!/bin/sh
# `train` in the training image: the sagemaker-training toolkit's own entry point
# (python3 -m sagemaker_training.cli.train), started through the scripts' launcher
# contract.launch when the image has it (it runs the toolkit in its own process group and
# forwards SIGTERM to the training script, which the toolkit alone would not), with one
# fallback for the code baked into the image:
#
# The toolkit always runs SAGEMAKER_PROGRAM from $SAGEMAKER_BASE_DIR/code (default /opt/ml/code):
# it copies the `sagemaker_submit_directory` hyperparameter's source there when that directory is
# empty, and without the hyperparameter it uses /opt/ml/code itself; the SAGEMAKER_SUBMIT_DIRECTORY
# environment variable is read but then overridden, so it cannot point the toolkit at /opt/program.
# The image links /opt/ml/code -> /opt/program, but a run that mounts a whole /opt/ml tree hides
# that link. Then, when no code was given (no hyperparameter, empty or missing code dir), link the
# code dir to the image's scripts, so a plain `docker run -v TREE:/opt/ml IMAGE train` works and
# always runs the image's current scripts (a link, not a copy that could go stale).
set -eu
base="${SAGEMAKER_BASE_DIR:-/opt/ml}"
code="$base/code"
src="${SAGEMAKER_SUBMIT_DIRECTORY:-/opt/program}"
hps="$base/input/config/hyperparameters.json"

if [ "$src" != "$code" ] && [ -d "$src" ] \
    && ! { [ -f "$hps" ] && grep -q '"sagemaker_submit_directory"' "$hps"; } \
    && [ -z "$(ls -A "$code" 2>/dev/null)" ]; then
    if [ -d "$code" ] && [ ! -L "$code" ]; then rmdir "$code"; fi
    if [ -L "$code" ]; then rm -f "$code"; fi
    mkdir -p "$base"
    ln -s "$src" "$code"
fi
if [ -f "$src/contract/launch.py" ]; then
    # Import the launcher from the scripts without putting them on PYTHONPATH for the job.
    exec python3 -c 'import sys; sys.path.insert(0, sys.argv.pop(1)); from contract.launch import main; sys.exit(main(sys.argv[1:]))' "$src" "$@"
fi
exec python3 -m sagemaker_training.cli.train "$@"
