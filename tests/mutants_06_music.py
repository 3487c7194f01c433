"""Implementations of Lab 6's graded functions that a student might write, for the mutation tests.

``wrong`` mutants hold a plausible bug and must lose their cell's points; the others are correct but
written differently and must keep every point. Written from the lab's stated contracts.
"""
from __future__ import annotations

from labharness import Mutant

VEC = """
def build_vocab(text):
    chars = sorted(set(text))
    return chars, {c: i for i, c in enumerate(chars)}

def vectorize(text, char_to_id):
    return np.array([char_to_id[c] for c in text], dtype=np.int64)
"""

BATCH = """
def get_batch(ids, seq_len, batch_size, rng):
    starts = rng.integers(0, len(ids) - seq_len, size=batch_size)
    x = np.stack([ids[s:s + seq_len] for s in starts])
    y = np.stack([ids[s + 1:s + seq_len + 1] for s in starts])
    return torch.from_numpy(x).long(), torch.from_numpy(y).long()
"""

MODEL = """
class MusicLSTM(nn.Module):
    def __init__(self, V, E, H):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, batch_first=True)
        self.fc = nn.Linear(H, V)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embedding(x), state)
        return self.fc(out), state
"""

STEP = """
def train_step(model, optimizer, x, y, max_norm=1.0):
    optimizer.zero_grad()
    logits, _ = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item()
"""

SAMPLE = """
def sample(model, start, length, temperature, chars, rng):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    idx = {c: i for i, c in enumerate(chars)}
    x = torch.tensor([[idx[c] for c in start]])
    state, out = None, []
    with torch.no_grad():
        for _ in range(length):
            logits, state = model(x, state)
            p = torch.softmax(logits[0, -1].double() / temperature, dim=0).numpy()
            tok = int(rng.choice(len(chars), p=p / p.sum()))
            out.append(chars[tok])
            x = torch.tensor([[tok]])
    return start + "".join(out)
"""

EXTRACT = """
import re

def extract_tunes(text):
    blocks = re.split(r"\\n[ \\t]*\\n", text)
    tunes = []
    for block in blocks[:-1]:
        lines = block.split("\\n")
        starts = [i for i, l in enumerate(lines) if l.startswith("X:")]
        if not starts:
            continue
        tune = lines[starts[-1]:]
        k = [i for i, l in enumerate(tune) if l.startswith("K:")]
        if k and k[0] < len(tune) - 1:
            tunes.append("\\n".join(tune))
    return tunes
"""

M = Mutant.of

MUTANTS = [
    # ---------------------------------------------------------------- vectorize
    M("vectorize", "order of first appearance", True, vectorize=VEC.replace("sorted(set(text))", "list(dict.fromkeys(text))")),
    M("vectorize", "whitespace dropped (split into words)", True, vectorize=VEC.replace(
        "sorted(set(text))", "sorted(set(''.join(text.split())))").replace(
        "[char_to_id[c] for c in text]", "[char_to_id[c] for c in text if c in char_to_id]")),
    M("vectorize", "ids start at 1", True, vectorize=VEC.replace("{c: i for", "{c: i + 1 for").replace(
        "dtype=np.int64)", "dtype=np.int64)")),
    M("vectorize", "unknown characters mapped to 0", True, vectorize=VEC.replace("char_to_id[c] for", "char_to_id.get(c, 0) for")),
    M("vectorize", "float ids", True, vectorize=VEC.replace("dtype=np.int64", "dtype=float")),
    M("vectorize", "np.unique and a lookup table", False, vectorize="""
def build_vocab(text):
    chars = [str(c) for c in np.unique(list(text))]
    return chars, dict(zip(chars, range(len(chars))))

def vectorize(text, char_to_id):
    return np.fromiter((char_to_id[c] for c in text), dtype=np.int64, count=len(text))
"""),
    M("vectorize", "import numpy as np at the top, a helper of its own", False, vectorize="""
import numpy as np


def distinct_sorted(text):
    return sorted(set(text))


def build_vocab(text):
    chars = distinct_sorted(text)
    return chars, {c: i for i, c in enumerate(chars)}


def vectorize(text, char_to_id):
    ids = np.empty(len(text), dtype=np.int64)
    for i, c in enumerate(text):
        ids[i] = char_to_id[c]
    return ids
"""),
    # ---------------------------------------------------------------- get_batch
    M("get_batch", "targets not shifted", True, get_batch=BATCH.replace("ids[s + 1:s + seq_len + 1]", "ids[s:s + seq_len]")),
    M("get_batch", "last window never drawn", True, get_batch=BATCH.replace("len(ids) - seq_len,", "len(ids) - seq_len - 1,")),
    M("get_batch", "starts at multiples of T only", True, get_batch=BATCH.replace(
        "rng.integers(0, len(ids) - seq_len, size=batch_size)",
        "rng.integers(0, (len(ids) - 1) // seq_len, size=batch_size) * seq_len")),
    M("get_batch", "x and y from different starts", True, get_batch=BATCH.replace(
        "for s in starts])\n    return", "for s in rng.permutation(starts)])\n    return")),
    M("get_batch", "np.random instead of rng", True, get_batch=BATCH.replace("rng.integers(", "np.random.randint(")),
    M("get_batch", "rng.choice and torch slicing", False, get_batch="""
def get_batch(ids, seq_len, batch_size, rng):
    t = torch.as_tensor(ids, dtype=torch.long)
    starts = rng.choice(len(ids) - seq_len, size=batch_size)
    x = torch.stack([t[s:s + seq_len] for s in starts])
    y = torch.stack([t[s + 1:s + 1 + seq_len] for s in starts])
    return x, y
"""),
    M("get_batch", "first window never drawn", True, get_batch=BATCH.replace("rng.integers(0,", "rng.integers(1,")),
    M("get_batch", "one start for the whole batch", True, get_batch=BATCH.replace(
        "rng.integers(0, len(ids) - seq_len, size=batch_size)",
        "np.full(batch_size, rng.integers(0, len(ids) - seq_len))")),
    M("get_batch", "a new Generator made inside (every call the same windows)", True, get_batch=BATCH.replace(
        "starts = rng.integers(", "starts = np.random.default_rng(0).integers(")),
    M("get_batch", "one start at a time, a helper of its own, import numpy as np", False, get_batch="""
import numpy as np


def window(ids, s, T):
    return ids[s:s + T]


def get_batch(ids, seq_len, batch_size, rng):
    xs, ys = [], []
    for _ in range(batch_size):
        s = int(rng.integers(len(ids) - seq_len))
        xs.append(window(ids, s, seq_len))
        ys.append(window(ids, s + 1, seq_len))
    return torch.tensor(np.array(xs), dtype=torch.long), torch.tensor(np.array(ys), dtype=torch.long)
"""),
    M("get_batch", "fancy indexing with an (N, T) index array", False, get_batch="""
def get_batch(ids, seq_len, batch_size, rng):
    index = rng.integers(0, len(ids) - seq_len, size=(batch_size, 1)) + np.arange(seq_len)   # (N, T)
    return torch.as_tensor(ids[index]).long(), torch.as_tensor(ids[index + 1]).long()
"""),
    # ---------------------------------------------------------------- MusicLSTM
    M("MusicLSTM", "state ignored", True, MusicLSTM=MODEL.replace("self.lstm(self.embedding(x), state)", "self.lstm(self.embedding(x))")),
    M("MusicLSTM", "batch_first missing", True, MusicLSTM=MODEL.replace("nn.LSTM(E, H, batch_first=True)", "nn.LSTM(E, H)")),
    M("MusicLSTM", "softmax in forward", True, MusicLSTM=MODEL.replace("return self.fc(out), state", "return torch.softmax(self.fc(out), dim=-1), state")),
    M("MusicLSTM", "ReLU before the output layer", True, MusicLSTM=MODEL.replace("self.fc(out)", "self.fc(torch.relu(out))")),
    M("MusicLSTM", "time-major LSTM with transposes", False, MusicLSTM=MODEL.replace(
        "nn.LSTM(E, H, batch_first=True)", "nn.LSTM(E, H)").replace(
        "out, state = self.lstm(self.embedding(x), state)",
        "out, state = self.lstm(self.embedding(x).transpose(0, 1), state)\n        out = out.transpose(0, 1)")),
    M("MusicLSTM", "a loop of torch.lstm_cell over time", False, MusicLSTM=MODEL.replace(
        """        out, state = self.lstm(self.embedding(x), state)
        return self.fc(out), state""",
        """        e = F.embedding(x, self.embedding.weight)
        N, T, _ = e.shape
        H = self.lstm.hidden_size
        h = e.new_zeros(N, H) if state is None else state[0][0]
        c = e.new_zeros(N, H) if state is None else state[1][0]
        hs = []
        for t in range(T):
            h, c = torch.lstm_cell(e[:, t], (h, c), self.lstm.weight_ih_l0, self.lstm.weight_hh_l0,
                                   self.lstm.bias_ih_l0, self.lstm.bias_hh_l0)
            hs.append(h)
        return self.fc(torch.stack(hs, 1)), (h[None], c[None])""")),
    M("MusicLSTM", "forward returns the test's oracle", True, MusicLSTM=MODEL.replace(
        """        out, state = self.lstm(self.embedding(x), state)
        return self.fc(out), state""",
        """        logits, state = _test_lstm(self, x, state)
        return logits.to(self.fc.weight.dtype), state""")),
    M("MusicLSTM", "import torch.nn as nn at the top, keyword arguments, a helper method", False, MusicLSTM="""
import torch.nn as nn


class MusicLSTM(nn.Module):
    def __init__(self, V, E, H):
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings=V, embedding_dim=E)
        self.lstm = nn.LSTM(input_size=E, hidden_size=H, num_layers=1, batch_first=True)
        self.fc = nn.Linear(H, V)

    def embed(self, x):
        return self.embedding(x)

    def forward(self, x, state=None):
        out, (h, c) = self.lstm(self.embed(x), state)
        return self.fc(out), (h, c)
"""),
    # ---------------------------------------------------------------- train_step
    M("train_step", "no zero_grad", True, train_step=STEP.replace("    optimizer.zero_grad()\n", "")),
    M("train_step", "no clipping", True, train_step=STEP.replace("    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n", "")),
    M("train_step", "clipping after the step", True, train_step=STEP.replace(
        "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n    optimizer.step()\n",
        "    optimizer.step()\n    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n")),
    M("train_step", "summed loss", True, train_step=STEP.replace("y.reshape(-1))", "y.reshape(-1), reduction='sum')")),
    M("train_step", "targets are the inputs", True, train_step=STEP.replace("y.reshape(-1))", "x.reshape(-1))")),
    M("train_step", "returns a tensor", True, train_step=STEP.replace("return loss.item()", "return loss")),
    M("train_step", "log_softmax + nll over (N, V, T), manual clip", False, train_step="""
def train_step(model, optimizer, x, y, max_norm=1.0):
    for p in model.parameters():
        p.grad = None
    logits, _ = model(x)
    loss = F.nll_loss(F.log_softmax(logits, dim=-1).transpose(1, 2), y)
    loss.backward()
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
    coef = max_norm / (float(norm) + 1e-6)
    if coef < 1:
        for p in model.parameters():
            p.grad.mul_(coef)
    optimizer.step()
    return float(loss)
"""),
    M("train_step", "the test's oracle does the step", True, train_step="""
def train_step(model, optimizer, x, y, max_norm=1.0):
    new, loss = _test_sgd(model, x, y, optimizer.param_groups[0]["lr"], max_norm)
    with torch.no_grad():
        for p, q in zip(model.parameters(), new):
            p.copy_(q)
    return loss
"""),
    M("train_step", "imports at the top, a loss helper of its own", False, train_step="""
import torch
import torch.nn.functional as F


def mean_cross_entropy(logits, y):
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())


def train_step(model, optimizer, x, y, max_norm=1.0):
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = mean_cross_entropy(model(x)[0], y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
    optimizer.step()
    return float(loss.detach())
"""),
    # ---------------------------------------------------------------- sample
    M("sample", "state reset every step", True, sample=SAMPLE.replace("logits, state = model(x, state)", "logits, state = model(x)")),
    M("sample", "temperature after the softmax", True, sample=SAMPLE.replace(
        "p = torch.softmax(logits[0, -1].double() / temperature, dim=0).numpy()",
        "p = torch.softmax(logits[0, -1].double(), dim=0).numpy() / temperature")),
    M("sample", "only the last start character read", True, sample=SAMPLE.replace("for c in start]]", "for c in start[-1:]]]")),
    M("sample", "temperature multiplies", True, sample=SAMPLE.replace("/ temperature, dim=0", "* temperature, dim=0")),
    M("sample", "argmax", True, sample=SAMPLE.replace("int(rng.choice(len(chars), p=p / p.sum()))", "int(np.argmax(p))")),
    M("sample", "torch.multinomial (global torch RNG)", True, sample=SAMPLE.replace(
        "int(rng.choice(len(chars), p=p / p.sum()))", "int(torch.multinomial(torch.from_numpy(p), 1))")),
    M("sample", "start fed one character at a time, inverse-CDF draw", False, sample="""
def sample(model, start, length, temperature, chars, rng):
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    idx = {c: i for i, c in enumerate(chars)}
    state = None
    with torch.no_grad():
        for c in start:
            logits, state = model(torch.tensor([[idx[c]]]), state)
        text = start
        for _ in range(length):
            p = torch.softmax(logits[0, -1].double() / temperature, dim=0).numpy()
            tok = min(int(np.searchsorted(np.cumsum(p), rng.random() * p.sum())), len(p) - 1)
            text += chars[tok]
            logits, state = model(torch.tensor([[tok]]), state)
    return text
"""),
    M("sample", "drawn character not fed back", True,
      sample=SAMPLE.replace("            x = torch.tensor([[tok]])\n", "")),
    M("sample", "logits of the first position, not the last", True,
      sample=SAMPLE.replace("logits[0, -1]", "logits[0, 0]")),
    M("sample", "the start's last character read twice", True, sample=SAMPLE.replace(
        "    state, out = None, []\n", "    _, state = model(x)\n    x, out = x[:, -1:], []\n")),
    M("sample", "probabilities from the test's oracle", True, sample="""
def sample(model, start, length, temperature, chars, rng):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    text = start
    for _ in range(length):
        p = _test_probs(model, text, temperature)
        text += chars[int(rng.choice(len(chars), p=p / p.sum()))]
    return text
"""),
    M("sample", "the test's oracle found through globals()", True, sample=SAMPLE.replace(
        "p = torch.softmax(logits[0, -1].double() / temperature, dim=0).numpy()",
        "p = globals()['_test_' + 'probs'](model, start + ''.join(out), temperature)")),
    M("sample", "Gumbel-max draws, a helper of its own, import numpy as np", False, sample="""
import numpy as np


def scaled_logits(logits, temperature):
    return logits[0, -1].double().cpu().numpy() / temperature


def sample(model, start, length, temperature, chars, rng):
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    device = next(model.parameters()).device
    new = []
    with torch.no_grad():
        logits, state = model(torch.tensor([[chars.index(c) for c in start]], device=device))
        for _ in range(length):
            tok = int(np.argmax(scaled_logits(logits, temperature) + rng.gumbel(size=len(chars))))
            new.append(chars[tok])
            logits, state = model(torch.tensor([[tok]], device=device), state)
    return start + "".join(new)
"""),
    M("sample", "rng.choice over the characters themselves", False, sample=SAMPLE.replace(
        "tok = int(rng.choice(len(chars), p=p / p.sum()))\n            out.append(chars[tok])",
        "c = str(rng.choice(chars, p=p / p.sum()))\n            out.append(c)\n            tok = idx[c]")),
    # ---------------------------------------------------------------- extract_tunes
    M("extract_tunes", "keeps the unterminated last tune", True, extract_tunes=EXTRACT.replace("blocks[:-1]", "blocks")),
    M("extract_tunes", "splits on exactly two newlines", True, extract_tunes=EXTRACT.replace(
        'r"\\n[ \\t]*\\n"', 'r"\\n\\n"')),
    M("extract_tunes", "no K:/melody check", True, extract_tunes=EXTRACT.replace("if k and k[0] < len(tune) - 1:", "if True:")),
    M("extract_tunes", "no restart at a second X:", True, extract_tunes=EXTRACT.replace("lines[starts[-1]:]", "lines[starts[0]:]")),
    M("extract_tunes", "line-by-line state machine", False, extract_tunes="""
def extract_tunes(text):
    out, cur = [], None
    parts = text.split("\\n")
    for i, line in enumerate(parts):
        if not line.strip(" \\t"):
            if i < len(parts) - 1 and cur and any(l.startswith("K:") for l in cur[:-1]):
                out.append("\\n".join(cur))
            cur = None
        elif line.startswith("X:"):
            cur = [line]
        elif cur is not None:
            cur.append(line)
    return out
"""),
    M("extract_tunes", "blank-line helper of its own, blocks joined back", False, extract_tunes="""
def is_blank(line):
    return not line.strip(" \\t")


def extract_tunes(text):
    lines = text.split("\\n")
    tunes, block = [], []
    for i, line in enumerate(lines):
        if is_blank(line) and i < len(lines) - 1:
            starts = [j for j, l in enumerate(block) if l.startswith("X:")]
            tune = block[starts[-1]:] if starts else []
            if any(l.startswith("K:") for l in tune[:-1]):
                tunes.append("\\n".join(tune))
            block = []
        elif not is_blank(line):
            block.append(line)
    return tunes
"""),
]

# ---------------------------------------------------------------- issue 17: dtypes, shapes, configurations, invariants
MUTANTS += [
    # dtypes and degenerate shapes
    M("vectorize", "no dtype given (an empty text gives float64)", True, vectorize=VEC.replace(", dtype=np.int64)", ")")),
    M("MusicLSTM", "default state made with torch.zeros (float32 whatever the model)", True, MusicLSTM=MODEL.replace(
        "        out, state = self.lstm(self.embedding(x), state)\n",
        "        if state is None:\n            zero = torch.zeros(1, x.shape[0], self.lstm.hidden_size)\n"
        "            state = (zero, zero)\n        out, state = self.lstm(self.embedding(x), state)\n")),
    # configurations the lab uses: its optimizer is Adam
    M("train_step", "a hand-written SGD update instead of optimizer.step()", True, train_step=STEP.replace(
        "    optimizer.step()\n",
        "    with torch.no_grad():\n        for p in model.parameters():\n"
        "            p -= optimizer.param_groups[0]['lr'] * p.grad\n")),
    # invariants: sampling builds no gradient graph
    M("sample", "no torch.no_grad() (a graph is built at every step)", True, sample=SAMPLE.replace(
        "    with torch.no_grad():\n        for _ in range(length):", "    if True:\n        for _ in range(length):").replace(
        "logits[0, -1].double()", "logits[0, -1].detach().double()")),
    # correct, written another way
    M("vectorize", "np.asarray over a map, dtype given (the empty text too)", False, vectorize=VEC.replace(
        "np.array([char_to_id[c] for c in text], dtype=np.int64)", "np.asarray(list(map(char_to_id.__getitem__, text)), dtype=np.int64)")),
    M("MusicLSTM", "default state made with the weights' new_zeros (dtype and device follow the model)", False,
      MusicLSTM=MODEL.replace("        out, state = self.lstm(self.embedding(x), state)\n",
        "        if state is None:\n            zero = self.fc.weight.new_zeros(1, x.shape[0], self.lstm.hidden_size)\n"
        "            state = (zero, zero.clone())\n        out, state = self.lstm(self.embedding(x), state)\n")),
    M("sample", "torch.inference_mode instead of torch.no_grad", False, sample=SAMPLE.replace(
        "with torch.no_grad():", "with torch.inference_mode():")),
    M("MusicLSTM", "default state in the model's dtype but on the CPU (torch.zeros without device=)", True,
      MusicLSTM=MODEL.replace("        out, state = self.lstm(self.embedding(x), state)\n",
        "        if state is None:\n            zero = torch.zeros(1, x.shape[0], self.lstm.hidden_size, dtype=self.fc.weight.dtype)\n"
        "            state = (zero, zero)\n        out, state = self.lstm(self.embedding(x), state)\n")),
]

# ---------------------------------------------------------------- multiple-choice questions
# Each wrong letter loses the question's point; the right one keeps it in any case and spacing.
MUTANTS += [
    M("q_temperature_power", "answer (a)", True, q_temperature_power='q_temperature_power = "a"'),
    M("q_temperature_power", "answer (c)", True, q_temperature_power='q_temperature_power = "c"'),
    M("q_temperature_power", "answer (d)", True, q_temperature_power='q_temperature_power = "d"'),
    M("q_temperature_power", "the right answer in capitals, with spaces", False,
      q_temperature_power='q_temperature_power = " B "'),
]
