"""PyTorch Lightning: a small network on scikit-learn's digits; poor runs stop via trainer.should_stop.

pip install -e '.[examples]' torch lightning && python examples/integrations/lightning_example.py
"""

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from hyperion import Float, Int, tune
from hyperion.integrations.lightning import HyperionCallback

X, y = load_digits(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


def loader(x, t, shuffle=False):
    data = torch.utils.data.TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(t))
    return torch.utils.data.DataLoader(data, batch_size=64, shuffle=shuffle)


class Net(pl.LightningModule):
    def __init__(self, lr, hidden):
        super().__init__()
        self.lr = lr
        self.net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))

    def training_step(self, batch, _):
        return torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1])

    def validation_step(self, batch, _):
        logits = self.net(batch[0])
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, batch[1]))
        self.log("val_accuracy", (logits.argmax(1) == batch[1]).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def objective(ctx, lr, hidden):
    torch.set_num_threads(1)
    trainer = pl.Trainer(
        max_epochs=20,
        callbacks=[HyperionCallback(ctx)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Net(lr, hidden), loader(X_train, y_train, shuffle=True), loader(X_valid, y_valid))
    return 0.0  # the optimised value is the last reported val_accuracy


tune(
    objective,
    {"lr": Float(1e-4, 1e-1, log=True), "hidden": Int(16, 256, log=True)},
    strategy="bayesian",
    metric="val_accuracy",
    mode="max",
    early_stopping="median",
    max_trials=12,
    seed=0,
    show_summary=True,
)
