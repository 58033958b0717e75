"""Distil your own Keras student from your own Keras teacher, with plain compile / fit.

Two modalities, two models of your own, one paired tf.data pipeline:
``({"teacher": x_teacher, "student": x_student}, label)``. Random data here (the
teacher sees 32 features, the student 12), so the script runs anywhere in seconds:

    python examples/distill_your_own_models.py --output /tmp/example
"""

import argparse
import os

import keras
import numpy as np
import tensorflow as tf

import fdkd_tf

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--output", default="runs/example", help="where the backup and the student go")
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

rng = np.random.default_rng(0)
labels = rng.integers(0, 4, 512).astype("int32")
inputs = {"teacher": rng.normal(size=(512, 32)).astype("float32") + labels[:, None],
          "student": rng.normal(size=(512, 12)).astype("float32") + 0.5 * labels[:, None]}
train = tf.data.Dataset.from_tensor_slices((inputs, labels)).shuffle(512, seed=0).batch(32)
val = tf.data.Dataset.from_tensor_slices((inputs, labels)).take(128).batch(64)

# Your models: plain Keras classifiers whose output is logits.
teacher = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, activation="relu", name="penultimate"), keras.layers.Dense(4)])
student = keras.Sequential([keras.Input((12,)), keras.layers.Dense(32, activation="relu", name="penultimate"), keras.layers.Dense(4)])
teacher.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
teacher.fit(train.map(lambda x, y: (x["teacher"], y)), epochs=args.epochs, verbose=0)  # trained elsewhere, in practice
teacher.trainable = False

distiller = fdkd_tf.FrequencyDecoupledDistillation(
    [fdkd_tf.Direction("student", "student", fdkd_tf.wrap_classifier(student, "penultimate"),
                       "teacher", fdkd_tf.wrap_classifier(teacher, "penultimate"))],
    num_classes=4, lambda1=1.0, lambda2=1.0,
)
distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
history = distiller.fit(train, validation_data=val, epochs=args.epochs, verbose=2, callbacks=[
    keras.callbacks.EarlyStopping(monitor="val_acc", mode="max", patience=2, restore_best_weights=True),
    keras.callbacks.BackupAndRestore(os.path.join(args.output, "backup")),  # a killed fit resumes
])
student.save(os.path.join(args.output, "student.keras"))  # your own model, trained: logits out
print(f"student validation accuracy {history.history['val_acc'][-1]:.3f}; saved {os.path.join(args.output, 'student.keras')}")
