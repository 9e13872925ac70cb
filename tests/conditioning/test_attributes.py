import pytest
import torch

from facegen.conditioning import Condition, guided
from facegen.conditioning.attributes import (
    AttributeEmbedder,
    create_attribute_vector,
    hide_attributes,
    parse_attributes,
)
from facegen.data import CELEBA_ATTRIBUTES


def test_attribute_vector_by_name():
    v = create_attribute_vector(Smiling=1, Male=0, Young=1)
    index = {name: i for i, name in enumerate(CELEBA_ATTRIBUTES)}
    assert v[index["Smiling"]] == 1 and v[index["Young"]] == 1 and v[index["Male"]] == -1
    assert (v != 0).sum() == 3  # the other 37 stay unspecified
    assert torch.equal(create_attribute_vector(parse_attributes("Smiling=1, Male=0,Young=1")), v)
    assert create_attribute_vector(smiling="-1")[index["Smiling"]] == -1


def test_typos_list_the_valid_names():
    with pytest.raises(
        ValueError, match=r"unknown attribute 'Smilling'. Did you mean Smiling\?.*Valid names: 5_o_Clock"
    ):
        create_attribute_vector(Smilling=1)
    with pytest.raises(ValueError, match="must look like Name=1"):
        parse_attributes("Smiling")
    with pytest.raises(ValueError, match="use 1 \\(present\\)"):
        create_attribute_vector(Smiling=7)


@pytest.mark.parametrize("text", ["Smiling=1,Smiling=0", "Smiling=1, smiling=1", "Male=0,Young=1,MALE=1"])
def test_an_attribute_given_twice_is_refused(text):
    with pytest.raises(ValueError, match="given twice"):
        parse_attributes(text)


def test_any_attribute_text_parses_or_is_a_value_error():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    pieces = st.sampled_from([*CELEBA_ATTRIBUTES[:6], "smiling", "Smilin", "=", ",", "1", "0", "-1", "yes", "", " "])

    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
    @hypothesis.given(st.one_of(st.text(max_size=30), st.lists(pieces, max_size=12).map("".join)))
    def check(text):
        try:
            pairs = parse_attributes(text)
        except ValueError:
            return
        assert len({name.lower() for name in pairs}) == len(pairs)
        assert int((create_attribute_vector(pairs) != 0).sum()) <= len(pairs)

    check()


def test_hiding_statistics():
    torch.manual_seed(0)
    attributes = torch.where(torch.rand(20_000, 40) < 0.5, 1.0, -1.0)
    dropout_only = hide_attributes(attributes, cfg_dropout=0.1, max_mask_rate=0.0)
    dropped = (dropout_only == 0).all(dim=1)
    assert dropped.float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert torch.equal(dropout_only[~dropped], attributes[~dropped])  # the others are untouched
    masked = hide_attributes(attributes, cfg_dropout=0.0, max_mask_rate=1.0)
    assert (masked == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)  # E[U(0, 1)]
    assert (masked == 0).all(dim=1).float().mean().item() == pytest.approx(1 / 41, abs=0.005)  # E[r^40]
    kept = masked != 0
    assert torch.equal(masked[kept], attributes[kept])  # nothing is flipped, only hidden


def test_embedder_states_and_interpolation():
    torch.manual_seed(0)
    embedder = AttributeEmbedder(dim=8)
    states = torch.tensor([[-1.0] * 40, [0.0] * 40, [1.0] * 40, [0.5] * 40])
    tokens, mask = embedder.tokens(Condition(attributes=states))
    assert tokens.shape == (4, 40, 8) and mask.all()
    table = embedder.states.detach() + embedder.identity.detach()[:, None]
    for row, state in enumerate((0, 1, 2)):
        assert torch.allclose(tokens[row], table[:, state])
    assert torch.allclose(tokens[3], (tokens[1] + tokens[2]) / 2)  # halfway between unspecified and present
    assert embedder(Condition(attributes=states)).shape == (4, 8)


def test_classifier_free_guidance_in_one_batched_pass():
    calls = []

    def net(x, t, cond):
        calls.append(len(x))
        return x + cond.attributes.sum(dim=1).view(-1, 1)  # cond branch: +sum, uncond (dropped): +0

    cond = Condition(attributes=torch.ones(3, 40))
    x, t = torch.zeros(3, 1), torch.zeros(3)
    out = guided(net, cond, scale=2.5)(x, t)
    assert calls == [6]  # conditional and unconditional together
    assert torch.allclose(out, torch.full((3, 1), 2.5 * 40.0))  # u + s (c - u) = 0 + 2.5 * 40
    calls.clear()
    assert torch.allclose(guided(net, cond, 1.0)(x, t), torch.full((3, 1), 40.0)) and calls == [3]
    source = Condition(attributes=torch.cat([torch.ones(3, 39), -torch.ones(3, 1)], dim=1))  # one attribute differs
    calls.clear()
    out = guided(net, cond, scale=2.5, base=source)(x, t)  # guidance along the edit: b + s (c - b) = 38 + 2.5 * 2
    assert calls == [6] and torch.allclose(out, torch.full((3, 1), 43.0))


def test_condition_helpers():
    c = Condition(attributes=torch.ones(2, 40))
    both = Condition.concat([c, c.dropped()])
    assert both.attributes.shape == (4, 40) and both.attributes[2:].abs().sum() == 0
    assert both.text_tokens is None
    face = Condition(attributes=torch.ones(2, 40), semantic=torch.randn(2, 6), reference=torch.randn(2, 3, 4, 4))
    dropped = face.dropped()  # CFG's branch drops attributes but keeps the face being edited
    assert dropped.attributes.abs().sum() == 0
    assert torch.equal(dropped.semantic, face.semantic) and torch.equal(dropped.reference, face.reference)


def test_one_attribute_moves_the_condition_from_the_start():
    # Guards a real regression: averaging 40 small tokens left single attributes with ~1/40 of an effect.
    torch.manual_seed(0)
    embedder = AttributeEmbedder(dim=64)
    smiling, serious = (create_attribute_vector(Smiling=v)[None] for v in (1, 0))
    a, b = embedder(Condition(attributes=smiling)), embedder(Condition(attributes=serious))
    assert ((a - b).norm() / a.norm()).item() > 0.05
