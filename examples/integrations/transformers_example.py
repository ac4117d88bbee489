"""Hugging Face Trainer: a tiny model on scikit-learn's digits (no download); evaluation each epoch,
poor runs stop via control.should_training_stop.

    pip install -e '.[examples]' torch transformers accelerate && python examples/integrations/transformers_example.py
"""

import tempfile

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from transformers import Trainer, TrainingArguments

from hyperion import Float, tune
from hyperion.integrations.transformers import HyperionCallback

X, y = load_digits(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
rows = lambda x, t: [{"inputs": torch.tensor(a, dtype=torch.float32), "labels": int(b)} for a, b in zip(x, t)]  # noqa: E731


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))

    def forward(self, inputs, labels=None):
        logits = self.net(inputs)
        return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}


def objective(ctx, learning_rate, weight_decay):
    torch.manual_seed(0)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        num_train_epochs=15,
        eval_strategy="epoch",
        save_strategy="no",
        report_to=[],
        per_device_train_batch_size=64,
        disable_tqdm=True,
        use_cpu=True,
    )
    trainer = Trainer(
        model=Classifier(),
        args=args,
        train_dataset=rows(X_train, y_train),
        eval_dataset=rows(X_valid, y_valid),
        callbacks=[HyperionCallback(ctx)],
    )
    trainer.train()
    return 0.0  # the optimised value is the last reported eval_loss


tune(
    objective,
    {"learning_rate": Float(1e-5, 1e-2, log=True), "weight_decay": Float(0.0, 0.1)},
    strategy="bayesian",
    metric="eval_loss",
    mode="min",
    early_stopping="median",
    max_trials=10,
    seed=0,
    show_summary=True,
)
