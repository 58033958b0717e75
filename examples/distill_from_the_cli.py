"""Distil from the command line: your paired files in a manifest CSV, your saved teacher.

Writes what a user brings (random data here, so it runs anywhere in seconds):

    DIR/data/pairs.csv          split,label,image,audio  (paths relative to the CSV)
    DIR/data/images/*.png       the teacher's modality
    DIR/data/sounds/*.wav       the student's modality (any rate: resampled to 16 kHz)
    DIR/teacher.keras           an image classifier trained elsewhere (logits out)
    DIR/config.yaml             data.name: manifest, model.teacher.arch: saved

then runs the same command a user runs:

    python tools/train.py --config DIR/config.yaml --output DIR/run

Stage 1 only evaluates the saved teacher (metrics.json reports it); stage 2 trains
the audio student with FD-CMKD. Usage: python examples/distill_from_the_cli.py --output /tmp/cli
"""

import argparse
import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

import fdkd_tf
from fdkd_tf.data.audio import write_wav

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--output", default="runs/cli_example", help="where the data, the teacher and the run go")
parser.add_argument("--epochs", type=int, default=2)
args = parser.parse_args()
data_dir = os.path.join(args.output, "data")

# 1. Your paired files, listed in a CSV (3 classes; both modalities carry the label).
rng = np.random.default_rng(0)
rows = ["split,label,image,audio"]
for split, count in (("train", 48), ("val", 12), ("test", 12)):
    for number in range(count):
        label, name = number % 3, f"{split}_{number:03d}"
        os.makedirs(os.path.join(data_dir, "images"), exist_ok=True)
        os.makedirs(os.path.join(data_dir, "sounds"), exist_ok=True)
        image = np.clip(60 + 70 * label + rng.integers(0, 40, (16, 16, 3)), 0, 255).astype("uint8")
        tf.io.write_file(os.path.join(data_dir, "images", f"{name}.png"), tf.io.encode_png(image))
        time = np.arange(2000) / 8000.0
        write_wav(os.path.join(data_dir, "sounds", f"{name}.wav"), 0.5 * np.sin(2 * np.pi * 400 * (label + 1) * time), 8000)
        rows.append(f"{split},{['cat', 'dog', 'owl'][label]},images/{name}.png,sounds/{name}.wav")
with open(os.path.join(data_dir, "pairs.csv"), "w", encoding="utf-8") as handle:
    handle.write("\n".join(rows) + "\n")

# 2. Your teacher, trained elsewhere on the image view and saved as a .keras file.
config_text = f"""experiment: {{name: cli_example, seed: 0}}
data: {{name: manifest, manifest: {os.path.join(data_dir, 'pairs.csv')}, teacher: image, student: audio,
       image_size: 16, audio_samples: 2000, batch_size: 8}}
model:
  teacher: {{arch: saved, path: {os.path.join(args.output, 'teacher.keras')}, feature_layer: penultimate}}
  student: {{arch: small_cnn, filters: [8, 16], feature_dim: 32}}
train: {{epochs: {args.epochs}, optimizer: adam, learning_rate: 0.003, final_learning_rate: 0.0003, verbose: 2}}
"""
with open(os.path.join(args.output, "config.yaml"), "w", encoding="utf-8") as handle:
    handle.write(config_text)
config = fdkd_tf.load_config(os.path.join(args.output, "config.yaml"))
images = fdkd_tf.data.build_datasets(config.data, seed=0).train.map(lambda x, y: (x["teacher"], y))
teacher = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(8, 3, activation="relu"),
                            keras.layers.GlobalAveragePooling2D(name="penultimate"), keras.layers.Dense(3)])
teacher.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
teacher.fit(images, epochs=5, verbose=0)
teacher.save(os.path.join(args.output, "teacher.keras"))

# 3. The command line.
command = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "train.py"),
           "--config", os.path.join(args.output, "config.yaml"), "--output", os.path.join(args.output, "run")]
print("running:", " ".join(command[1:]), flush=True)
sys.exit(subprocess.call(command))
