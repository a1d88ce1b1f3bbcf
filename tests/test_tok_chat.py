"""SmolLM2's chat template, rendered as Hugging Face ``transformers`` renders it, and tokenized.

transformers is not a test dependency, so the twin is what ``apply_chat_template`` does inside:
the template string rendered by jinja2's ``ImmutableSandboxedEnvironment`` with
``trim_blocks`` and ``lstrip_blocks``; the ids come from HF ``tokenizers`` (SmolLM2's
tokenizer rebuilt from the GGUF, see ``test_tok_bpe_smollm2.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jinja2.ext
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llmlab.tokenizers.chat import ChatTemplate, ChatTemplateError, load_chat_template
from llmlab.tokenizers.pretrained import PRETRAINED, load_pretrained
from test_tok_bpe_smollm2 import hf_twin

Need = Callable[..., list[Path]]

CONVERSATIONS = [
    [{"role": "user", "content": "Hi!"}],
    [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "What is 2+2?"}],
    [
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Another one, with émojis 😀 and\nnew lines  "},
    ],
    [{"role": "tool", "content": '{"ok": true}'}],
]


@pytest.fixture
def smollm2(real_assets: Need) -> Path:
    [folder] = real_assets("smollm2-135m-instruct")
    return folder / PRETRAINED["smollm2"].file


def hf_render(source: str, messages: list, add_generation_prompt: bool) -> str:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    return env.from_string(source).render(messages=messages, add_generation_prompt=add_generation_prompt)


def test_the_gguf_template_and_special_tokens(smollm2: Path) -> None:
    chat = load_chat_template("smollm2")
    assert chat.source == hf_twin(smollm2)[1]["tokenizer.chat_template"]  # as the gguf package reads it
    assert chat.special_tokens == {
        "bos_token": "<|im_start|>",
        "eos_token": "<|im_end|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|im_end|>",
    }


def test_chatml_with_the_default_system_prompt(smollm2: Path) -> None:
    chat = ChatTemplate.from_gguf(smollm2)
    text = chat.apply_chat_template([{"role": "user", "content": "Hi!"}], add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi!<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


@pytest.mark.parametrize("add_generation_prompt", [False, True])
@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_renders_and_tokenizes_like_hf(smollm2: Path, messages: list, add_generation_prompt: bool) -> None:
    chat = ChatTemplate.from_gguf(smollm2)
    text = chat.apply_chat_template(messages, add_generation_prompt=add_generation_prompt)
    assert text == hf_render(chat.source, messages, add_generation_prompt)
    ids = chat.encode(load_pretrained("smollm2"), messages, add_generation_prompt=add_generation_prompt)
    hf, _ = hf_twin(smollm2)
    assert ids == hf.encode(text, add_special_tokens=False).ids
    turns = len(messages) + (messages[0]["role"] != "system") + add_generation_prompt
    assert ids[0] == 1 and ids.count(1) == turns  # <|im_start|> opens every turn
    assert ids.count(2) == turns - add_generation_prompt  # <|im_end|> closes every finished turn


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ("Hi!", "messages must be a list of {'role': ..., 'content': ...} mappings"),
        ([["user", "Hi"]], "message 0 is a list, not a mapping with 'role' and 'content'"),
        ([{"role": "user"}], "message 0 needs a string 'content' (found None)"),
        (
            [{"role": "user", "content": "a"}, {"content": "b"}],
            "message 1 needs a string 'role' (found None)",
        ),
    ],
)
def test_bad_messages(messages: object, message: str) -> None:
    chat = ChatTemplate("{% for m in messages %}{{ m.content }}{% endfor %}")
    with pytest.raises(ChatTemplateError) as e:
        chat.apply_chat_template(messages)  # type: ignore[arg-type]
    assert str(e.value) == message


def test_template_errors_are_one_line() -> None:
    with pytest.raises(
        ChatTemplateError, match=r"^t, line 2: Unexpected end of template\. Jinja was looking for"
    ):
        ChatTemplate("{% for m in messages %}\n{{ m }}", name="t")
    strict = ChatTemplate(
        "{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif %}", name="t"
    )
    with pytest.raises(ChatTemplateError, match=r"^t: first must be user$"):
        strict.apply_chat_template([{"role": "system", "content": "x"}])
    sneaky = ChatTemplate("{{ messages.append(1) }}", name="t")  # the sandbox refuses to mutate
    with pytest.raises(
        ChatTemplateError, match=r"^t: access to attribute 'append' of 'list' object is unsafe"
    ):
        sneaky.apply_chat_template([])


def test_tojson_and_loop_controls_like_transformers() -> None:
    chat = ChatTemplate(
        "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m | tojson }}{% endfor %}"
    )
    assert (
        chat.apply_chat_template([{"role": "user", "content": "é"}, {"role": "x", "content": "y"}])
        == '{"role": "user", "content": "é"}'
    )
