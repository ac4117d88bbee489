"""Keras 3 (JAX backend, CPU) on scikit-learn's bundled digits data.

pip install -e '.[examples,integrations]' && KERAS_BACKEND=jax python examples/integrations/keras_example.py
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from hyperion import Float, Int, tune  # noqa: E402
from hyperion.integrations.keras import HyperionCallback  # noqa: E402

X, y = load_digits(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


def objective(ctx, learning_rate, units):
    keras.utils.set_random_seed(ctx.number)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(10)])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(
        X_train,
        y_train,
        validation_data=(X_valid, y_valid),
        epochs=30,
        batch_size=64,
        verbose=0,
        callbacks=[HyperionCallback(ctx)],
    )
    return 0.0  # the optimised value is the last reported val_accuracy


tune(
    objective,
    {"learning_rate": Float(1e-4, 1e-1, log=True), "units": Int(8, 128, log=True)},
    strategy="bayesian",
    metric="val_accuracy",
    mode="max",
    early_stopping="median",
    max_trials=15,
    seed=0,
    show_summary=True,
)
