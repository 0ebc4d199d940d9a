#!/bin/sh
# The main job: build libaistack and the aistack tool, then run a real inference with the model
# that ships with the repository (models/digits_mlp.onnx, an MLP trained on scikit-learn's 8x8
# handwritten digits by models/make_digits_model.py): it prints the predicted digit.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh build

echo "build: configuring with cmake and building the aistack tool (Release; a minute or two)..."
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DAIS_BUILD_TESTS=OFF -DAIS_CUDA=OFF >/dev/null
# The libraries too, not only the tool: `cmake --install build-release` installs them (README).
cmake --build build-release -j"$(nproc)" --target aistack aistack_static aistack_tool >/dev/null
for f in models/digits/test[0-9]_label*.npy; do
  label=${f##*_label}
  echo "== aistack run models/digits_mlp.onnx --input pixels=$f   (true digit: ${label%.npy})"
  build-release/examples/aistack run models/digits_mlp.onnx --input "pixels=$f"
done
