"""``llmlab models``: list the zoo, show a model's anatomy, load real weights, look inside."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import torch
import typer
from rich.table import Table

from llmlab.cli.console import console, err_console
from llmlab.errors import LLMLabError
from llmlab.models import registry
from llmlab.models.introspect import flops_per_token, logit_lens, parameter_counts

app = typer.Typer(
    help="The model zoo: GPT-2, LLaMA, BERT, T5 and RNN/LSTM/GRU, written from scratch; real weights offline.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def _millions(n: float) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e5 else f"{n / 1e3:.1f}K"


def _on_meta(name: str) -> torch.nn.Module:
    with torch.device("meta"):  # shapes only: a 7B preset costs no memory
        return registry.build(name)


@app.command("list", epilog="Example: [bold]llmlab models list --family llama[/bold]")
def list_models(
    family: Annotated[
        str | None, typer.Option(help="Only this family: gpt2, llama, bert, t5 or rnn.")
    ] = None,
) -> None:
    """Every preset and pretrained model, with its size and where its weights come from."""
    if family is not None and family not in registry.FAMILIES:
        raise LLMLabError(f"unknown family {family!r}; families: {', '.join(registry.FAMILIES)}")
    table = Table(title="llmlab model zoo", title_justify="left")
    for col in ("name", "family", "parameters", "context", "weights"):
        table.add_column(col, justify="right" if col in ("parameters", "context") else "left")
    for name in registry.all_names():
        fam, cfg, pretrained = registry.resolve(name)
        if family and fam != family:
            continue
        n = sum(p.numel() for p in _on_meta(name).parameters())
        weights = f"asset: {pretrained.asset}" if pretrained else "random init"
        table.add_row(name, fam, _millions(n), str(getattr(cfg, "max_seq_len", "-")), weights)
    console.print(table)
    console.print("Details: llmlab models info NAME    Real weights: llmlab models load NAME --prompt '...'")


@app.command(epilog="Example: [bold]llmlab models info smollm2-135m-instruct --seq-len 512[/bold]")
def info(
    name: Annotated[str, typer.Argument(help="A preset or pretrained name (see llmlab models list).")],
    seq_len: Annotated[
        int | None, typer.Option(help="Context length for the FLOPs count (default: 256, or less).")
    ] = None,
) -> None:
    """Config, parameters and forward FLOPs per token by component, and the weights' source."""
    fam, cfg, pretrained = registry.resolve(name)
    if seq_len is None:
        seq_len = min(256, getattr(cfg, "max_seq_len", 256))
    if seq_len < 1:
        raise LLMLabError(f"--seq-len must be at least 1, got {seq_len}")
    console.print(f"[bold]{name}[/bold]  family {fam}: {registry.FAMILIES[fam][2]}")
    fields = Table(show_header=False, box=None, padding=(0, 2))
    for key, value in cfg.to_dict().items():
        if key != "family":
            fields.add_row(key, str(value))
    console.print(fields)
    model = _on_meta(name)
    params = parameter_counts(model)
    total = sum(params.values())
    cost = Table(
        title=f"where the parameters and the compute are (forward, context {seq_len})", title_justify="left"
    )
    for col in ("component", "parameters", "share", "GFLOPs/token"):
        cost.add_column(col, justify="left" if col == "component" else "right")
    flops = _flops(name, model, cfg, seq_len)
    for comp in sorted(set(params) | (set(flops) - {"total"}), key=lambda c: -params.get(c, 0)):
        p = params.get(comp, 0)
        f = flops.get(comp)
        shown = "tied" if comp == "head" and p == 0 else f"{p:,}"  # the head is the embedding matrix
        cost.add_row(comp, shown, f"{p / total:.1%}", "-" if f is None else f"{f / 1e9:.4f}")
    cost.add_row(
        "total", f"{total:,}", "100%", "-" if "total" not in flops else f"{flops['total'] / 1e9:.4f}"
    )
    console.print(cost)
    if pretrained:
        console.print(f"weights: {pretrained.source}\n  asset {pretrained.asset} ({pretrained.file})")
        console.print(f"  load: llmlab models load {name}")
    else:
        console.print(
            "weights: random init (a preset to train); `llmlab models load PATH` reads HF folders and GGUF"
        )
    from llmlab.path.results import record_run

    figures = {"parameters": total, "seq_len": seq_len}
    if "total" in flops:
        figures["GFLOPs_per_token"] = round(flops["total"] / 1e9, 4)
    record_run("models-info", f"llmlab models info {name} --seq-len {seq_len}", figures)


def _flops(name: str, model: torch.nn.Module, cfg, seq_len: int) -> dict[str, float]:
    max_len = getattr(cfg, "max_seq_len", seq_len)
    if seq_len > max_len:
        raise LLMLabError(f"--seq-len {seq_len} is longer than {name}'s context of {max_len}")
    if registry.resolve(name)[0] == "t5":
        err_console.print(
            "(an encoder-decoder's FLOPs depend on two lengths: see docs/models.md for its formula)"
        )
        return {}
    if sum(p.numel() for p in model.parameters()) > 5e8:
        err_console.print("(FLOPs are counted on a real forward pass; skipped above 500M parameters)")
        return {}
    with err_console.status(f"counting FLOPs on a {seq_len}-token forward pass..."):
        return flops_per_token(registry.build(name).eval(), seq_len)


def _load_any(name_or_path: str) -> torch.nn.Module:
    path = Path(name_or_path)
    if path.suffix == ".gguf" and path.is_file():
        from llmlab.models.gguf_llama import load_llama_gguf

        return load_llama_gguf(path)
    if path.is_dir():
        from llmlab.models.hf import from_pretrained

        return from_pretrained(path)
    return registry.load(name_or_path)


@app.command(
    epilog="Examples:\n\n[bold]llmlab models load smollm2-135m-instruct --prompt 'What is the capital of France?'[/bold]"
    "\n\n[bold]llmlab models load all-minilm-l6-v2 --prompt 'A sentence to embed'[/bold]"
    "\n\n[bold]llmlab models load smollm2-135m-instruct --save-hf runs/smollm2-hf[/bold]",
)
def load(
    name: Annotated[str, typer.Argument(help="Pretrained name, an HF-layout folder, or a LLaMA .gguf file.")],
    prompt: Annotated[str | None, typer.Option(help="Chat with it (decoders) or embed it (MiniLM).")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens (greedy decoding).")] = 64,
    save_hf: Annotated[Path | None, typer.Option(help="Also write the model in the HF layout here.")] = None,
) -> None:
    """Load real weights into our own implementation; optionally run it or export it."""
    start = time.perf_counter()
    with err_console.status(f"loading {name}..."):
        model = _load_any(name)
    n = sum(p.numel() for p in model.parameters())
    console.print(
        f"loaded {type(model).__name__} with {n:,} parameters in {time.perf_counter() - start:.1f} s"
    )
    if prompt is not None:
        _run_prompt(name, model, prompt, max_new_tokens)
    if save_hf is not None:
        from llmlab.models.hf import save_pretrained

        folder = save_pretrained(model, save_hf)
        console.print(f"wrote {folder}/config.json and model.safetensors (transformers can load them)")


def _speaks_smollm2(model: torch.nn.Module) -> bool:
    """A LLaMA with SmolLM2's vocabulary: the only decoder whose tokenizer ships with llmlab."""
    from llmlab.models.llama import Llama

    return isinstance(model, Llama) and model.config.vocab_size == 49152


def _run_prompt(name: str, model: torch.nn.Module, prompt: str, max_new_tokens: int) -> None:
    from llmlab.generation.greedy import greedy

    if _speaks_smollm2(model):
        from llmlab.tokenizers.chat import load_chat_template
        from llmlab.tokenizers.pretrained import load_pretrained

        tok, template = load_pretrained("smollm2"), load_chat_template("smollm2")
        ids = template.encode(tok, [{"role": "user", "content": prompt}], add_generation_prompt=True)
        start = time.perf_counter()
        new = greedy(model, ids, max_new_tokens, stop_ids=[tok.special_tokens["<|im_end|>"]])
        secs = time.perf_counter() - start
        console.print(
            f"[bold]user:[/bold] {prompt}\n[bold]assistant:[/bold] {tok.decode(new).replace('<|im_end|>', '')}"
        )
        console.print(f"({len(new)} tokens in {secs:.1f} s, greedy, KV cache)", style="dim")
    elif name == "all-minilm-l6-v2":
        from llmlab.models.sentence import SentenceEncoder

        vec = SentenceEncoder.from_folder().encode([prompt])[0]
        head = ", ".join(f"{v:+.4f}" for v in vec[:6].tolist())
        console.print(f"embedding: {vec.numel()} numbers, L2 norm {vec.norm():.4f}: [{head}, ...]")
    else:
        raise LLMLabError(f"--prompt works with smollm2-135m-instruct and all-minilm-l6-v2, not {name!r}")


@app.command(
    epilog="Example: [bold]llmlab models lens smollm2-135m-instruct 'The capital of France is'[/bold]"
)
def lens(
    name: Annotated[
        str, typer.Argument(help="A pretrained decoder (smollm2-135m-instruct) or a .gguf file.")
    ],
    text: Annotated[str, typer.Argument(help="The text whose next token we watch form.")],
    top: Annotated[int, typer.Option(help="Candidates shown per layer.")] = 3,
) -> None:
    """The logit lens: what the model would predict next if it stopped after each layer."""
    from llmlab.tokenizers.pretrained import load_pretrained

    with err_console.status(f"loading {name}..."):
        model = _load_any(name)
    if not _speaks_smollm2(model):
        raise LLMLabError(
            "the lens command reads text with SmolLM2's tokenizer, so it needs a SmolLM2-vocabulary LLaMA; "
            f"{name} is a {type(model).__name__} (in Python, llmlab.models.introspect.logit_lens takes any decoder)"
        )
    tok = load_pretrained("smollm2")
    ids = tok.encode(text)
    if not ids:
        raise LLMLabError("give some text: the lens reads the prediction after its last token")
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_hidden_states=True)
    probs = logit_lens(model, out.hidden_states)[:, 0, -1].softmax(-1)  # (n_layer + 1, V)
    table = Table(title=f"next token after {text!r}, layer by layer", title_justify="left")
    table.add_column("after", justify="right")
    table.add_column(f"top {top} (probability)")
    for layer, p in enumerate(probs):
        values, idx = p.topk(top)
        cells = "   ".join(
            f"{tok.decode([int(i)])!r} {float(v):.2f}" for v, i in zip(values, idx, strict=True)
        )
        table.add_row("embeddings" if layer == 0 else f"layer {layer}", cells)
    console.print(table)
    from llmlab.path.results import record_run

    final = probs[-1].topk(1)
    record_run("models-lens", f"llmlab models lens {name} {text!r}",
               {"prediction": tok.decode([int(final.indices[0])]), "probability": round(float(final.values[0]), 4),
                "layers": len(probs) - 1})  # fmt: skip
