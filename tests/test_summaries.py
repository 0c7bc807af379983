"""TensorBoard summaries a researcher can read (issue 14): the labelled LR | SR | HR | error panel,
attention pictures drawn on the LR frame on fixed colour scales with the query and its top keys
marked, the picture cadence, the stage text and a description on every tag.

The rendering functions are tested on numpy arrays; `TrainingSummaries` writes real event files
with a tiny real model, read back with TensorBoard's own reader (EventAccumulator).
"""

import io

import numpy as np
import pytest

from vsr_latent import pictures as P
from vsr_latent.training import summaries as S

BG = np.array(P.BACKGROUND, np.uint8)
GREY = np.array(P.SEPARATOR_GREY, np.uint8)
WHITE = np.array(P.QUERY_MARKER, np.uint8)
RED = np.array(P.KEY_MARKER, np.uint8)
ZOOM = P.ATTENTION_ZOOM


def tile_of(picture, key, image=None):
    top, left, h, w = picture.boxes[key]
    image = picture.image if image is None else image
    return image[top:top + h, left:left + w]


def count(image, colour):
    return int((image == colour).all(axis=-1).sum())


def clip(frames=3, lr_size=8, scale=4, seed=0, hr_max=256):
    rng = np.random.default_rng(seed)
    lr = rng.integers(0, 256, (frames, lr_size, lr_size, 3)).astype(np.float32)
    hr = rng.integers(0, hr_max, (frames, lr_size * scale, lr_size * scale, 3)).astype(np.float32)
    sr = np.clip(hr + rng.normal(0, 10, hr.shape), 0, 255).round().astype(np.float32)
    return lr, sr, hr


# ---- the LR | SR | HR panel ------------------------------------------------------------------------


def test_panel_is_labelled_wider_than_tall_and_shows_the_arrays_pixel_for_pixel():
    lr, sr, hr = clip(frames=7)
    panel = P.lr_sr_hr_panel(lr, sr, hr, 4)
    img = panel.image
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape[1] > img.shape[0], img.shape
    # First, middle, last frame: at most PANEL_FRAMES rows.
    assert P.PANEL_FRAMES == 3 and panel.info["frames"] == [0, 3, 6]
    assert set(panel.boxes) == {(c, t) for c in ("lr", "sr", "hr", "error") for t in (0, 3, 6)}
    for t in (0, 3, 6):
        lr_tile = tile_of(panel, ("lr", t)).astype(int)
        assert lr_tile.shape == (32, 32, 3)
        # Nearest-neighbour x4: constant over every 4x4 block, the block being the LR pixel.
        blocks = lr_tile.reshape(8, 4, 8, 4, 3)
        assert (blocks == blocks[:, :1, :, :1]).all()
        np.testing.assert_array_equal(lr_tile[::4, ::4], lr[t])
        np.testing.assert_array_equal(tile_of(panel, ("sr", t)), sr[t].astype(np.uint8))
        np.testing.assert_array_equal(tile_of(panel, ("hr", t)), hr[t].astype(np.uint8))
        assert tile_of(panel, ("error", t)).shape == (32, 32, 3)
        # Columns left to right, rows top to bottom.
        lefts = [panel.boxes[(c, t)][1] for c in ("lr", "sr", "hr", "error")]
        assert lefts == sorted(lefts)
    assert [panel.boxes[("sr", t)][0] for t in (0, 3, 6)] == sorted(
        panel.boxes[("sr", t)][0] for t in (0, 3, 6))
    # The label strip: text above the first row of tiles.
    first_top = min(top for top, _, _, _ in panel.boxes.values())
    assert first_top > 10
    assert (img[:first_top] != BG).any(axis=-1).sum() > 100
    # Each row is labelled with its frame index left of the LR tile.
    for t in (0, 3, 6):
        top, left, h, _ = panel.boxes[("lr", t)]
        assert (img[top:top + h, :left] != BG).any(axis=-1).sum() > 5
    # Separators: 2 px of grey between SR and HR (same-width columns) and below the first row.
    top, left, h, w = panel.boxes[("hr", 0)]
    sr_top, sr_left, _, sr_w = panel.boxes[("sr", 0)]
    assert left - (sr_left + sr_w) == P.SEPARATOR == 2
    assert (img[top:top + h, sr_left + sr_w:left] == GREY).all()
    assert (img[top + h:top + h + 2, left:left + w] == GREY).all()


def test_panel_of_a_short_clip_shows_each_frame_once():
    lr, sr, hr = clip(frames=2)
    assert P.lr_sr_hr_panel(lr, sr, hr, 4).info["frames"] == [0, 1]
    lr, sr, hr = clip(frames=1)
    panel = P.lr_sr_hr_panel(lr, sr, hr, 4)
    assert panel.info["frames"] == [0]
    assert panel.image.shape[1] > panel.image.shape[0]


def test_error_tile_is_on_a_fixed_scale():
    lr, _, hr = clip(frames=3, hr_max=200)
    sr = hr.copy()
    sr[1] += 16  # |SR - HR| = 16 everywhere: half the scale, whatever the tile's own min/max
    sr[2] += 50  # beyond the scale: saturates at its top
    panel = P.lr_sr_hr_panel(lr, sr, hr, 4)
    zero, half, top = (P.error_colors(np.array(v)) for v in (0.0, 16.0, P.ERROR_RANGE[1]))
    assert P.ERROR_RANGE == (0.0, 32.0)
    assert len({tuple(zero), tuple(half), tuple(top)}) == 3
    # SR == HR: every pixel is the colour of 0 on the fixed scale (inferno's black).
    assert (tile_of(panel, ("error", 0)) == zero).all()
    assert tuple(zero) == tuple(P.lookup_table("inferno")[0])
    assert (tile_of(panel, ("error", 1)) == half).all()
    assert (tile_of(panel, ("error", 2)) == top).all()
    # The scale's colour bar is in the header above the error column.
    header = panel.image[:panel.boxes[("error", 0)][0]]
    assert count(header, zero) > 0 and count(header, top) > 0


def test_sr_is_rounded_and_clipped_not_stretched():
    lr, sr, hr = clip(frames=3)
    wild = sr * 3.0 - 200.0  # the network's output is not clipped
    panel = P.lr_sr_hr_panel(lr, wild, hr, 4)
    np.testing.assert_array_equal(
        tile_of(panel, ("sr", 1)), np.clip(np.rint(wild[1]), 0, 255).astype(np.uint8))


# ---- latent cells and upsampling --------------------------------------------------------------------


def test_latent_cells_map_to_their_pooling_window_in_the_lr_frame():
    # A 7 x 9 LR frame has a ceil(7/2) x ceil(9/2) = 4 x 5 latent map: cell (i, j) was pooled
    # from LR rows 2i, 2i + 1 and columns 2j, 2j + 1 (cut by the frame at the last ones).
    latent = np.arange(20).reshape(4, 5)
    up = P.upsample_nearest(latent, (7, 9))
    y, x = np.mgrid[0:7, 0:9]
    np.testing.assert_array_equal(up, (y // 2) * 5 + x // 2)
    assert P.cell_box(2, 2, (4, 5), (7, 9)) == (4, 4, 2, 2)
    assert P.cell_box(3, 4, (4, 5), (7, 9)) == (6, 8, 1, 1)
    for i in range(4):
        for j in range(5):
            top, left, h, w = P.cell_box(i, j, (4, 5), (7, 9))
            assert (up[top:top + h, left:left + w] == i * 5 + j).all()
            assert (up == i * 5 + j).sum() == h * w


# ---- attention pictures ------------------------------------------------------------------------------


def test_short_mask_is_drawn_on_the_frame_on_the_fixed_scale_0_to_1():
    frames, h, w = 3, 8, 8
    lr = np.full((frames, h, w, 3), 100.0)
    flat = np.full((frames, h, w, 4), 0.5)
    a = P.short_mask_picture(flat, lr, block=1)
    assert a.info["frame"] == 1  # the middle frame
    tile_a = tile_of(a, ("frame", 1))
    # The stated size: the LR frame enlarged x4.
    assert tile_a.shape == (ZOOM * h, ZOOM * w, 3) and ZOOM == 4
    colour = tile_a[0, 0]
    assert (tile_a == colour).all()
    expected = P.picture_to_uint8(P.OVERLAY_ALPHA * P.mask_colors(np.array(0.5))
                          + (1 - P.OVERLAY_ALPHA) * P.grey(lr[1])[0, 0])
    np.testing.assert_array_equal(colour, expected)
    # The same 0.5 renders the same colour whatever the mask's own min/max.
    varied = flat.copy()
    varied[1, 0, 0] = 0.0
    varied[1, 7, 7] = 1.0
    varied[0] = 0.99  # other frames are not shown
    b = P.short_mask_picture(varied, lr, block=1)
    tile_b = tile_of(b, ("frame", 1))
    assert tile_b.shape == tile_a.shape
    rest = np.ones((ZOOM * h, ZOOM * w), bool)
    rest[:ZOOM, :ZOOM] = rest[-ZOOM:, -ZOOM:] = False
    assert (tile_b[rest] == colour).all()
    assert (tile_b[:ZOOM, :ZOOM] != colour).any() and (tile_b[-ZOOM:, -ZOOM:] != colour).any()
    # A different value is a different colour (a min/max stretch would paint both alike).
    c = P.short_mask_picture(np.full((frames, h, w, 4), 0.9), lr, block=1)
    assert (tile_of(c, ("frame", 1)) != colour).any()
    # The colour bar states the range: 0 at its left end, 1 at its right end.
    bar = tile_of(a, "colour_bar")
    np.testing.assert_array_equal(bar[0, 0], P.mask_colors(np.array(0.0)))
    np.testing.assert_array_equal(bar[0, -1], P.mask_colors(np.array(1.0)))
    # And the title/labels exist (text above the tile).
    top = a.boxes[("frame", 1)][0]
    assert (a.image[:top] != BG).any(axis=-1).sum() > 50


def test_variance_is_drawn_on_the_fixed_log_scale_at_its_latent_cells():
    frames, h, w = 3, 7, 9  # latent 4 x 5
    lr = np.full((frames, h, w, 3), 80.0)
    var = np.full((frames, 4, 5, 2), 1e-3)
    var[1, 3, 4] = 1e-1
    pic = P.variance_picture(var, lr, block=0)
    tile = tile_of(pic, ("frame", 1))
    assert tile.shape == (ZOOM * h, ZOOM * w, 3)

    def shown(value):
        return P.picture_to_uint8(P.OVERLAY_ALPHA * P.variance_colors(np.array(value))
                          + (1 - P.OVERLAY_ALPHA) * P.grey(lr[1])[0, 0])

    # Latent cell (3, 4) covers LR pixel (6, 8) only: the bottom-right 4x4 of the tile.
    assert (tile[-ZOOM:, -ZOOM:] == shown(1e-1)).all()
    rest = np.ones(tile.shape[:2], bool)
    rest[-ZOOM:, -ZOOM:] = False
    assert (tile[rest] == shown(1e-3)).all()
    # Fixed log scale 1e-6..1e-1: 1e-3 is 3/5 of the way; beyond the ends saturates.
    assert P.VARIANCE_RANGE == (1e-6, 1e-1)
    np.testing.assert_array_equal(P.variance_colors(np.array(1e-3)),
                                  P.colormap(np.array(0.6), 0.0, 1.0))
    np.testing.assert_array_equal(P.variance_colors(np.array(1e-9)),
                                  P.variance_colors(np.array(1e-6)))
    np.testing.assert_array_equal(P.variance_colors(np.array(1.0)),
                                  P.variance_colors(np.array(1e-1)))
    # The same value keeps its colour when the rest of the map changes (no stretching).
    other = np.full_like(var, 1e-3)
    other[1, 0, 0] = 1e-6
    tile2 = tile_of(P.variance_picture(other, lr, block=0), ("frame", 1))
    rest2 = np.ones(tile.shape[:2], bool)
    rest2[:2 * ZOOM, :2 * ZOOM] = False
    assert (tile2[rest2] == shown(1e-3)).all()


def planted_z(seed=3, frames=3, size=4, channels=16):
    """Random z with three positions planted parallel to the query (1, 2, 2)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(frames, size, size, channels))
    query = (frames // 2, size // 2, size // 2)
    planted = [(0, 0, 0), (2, 3, 1), (1, 0, 3)]
    for scale, pos in zip((2.0, 0.9, 1.0), planted):  # the scale does not change cosines
        z[pos] = scale * z[query] + 0.01 * rng.normal(size=channels)
    return z, query, planted


def test_long_attention_marks_the_query_and_three_keys_other_than_it():
    z, query, planted = planted_z()
    frames, h, w = 3, 8, 8
    lr = np.full((frames, h, w, 3), 128.0)
    pic = P.long_attention_picture(z, lr, block=0)
    assert pic.info["query"] == query  # the centre of the middle frame
    keys = pic.info["keys"]
    assert len(keys) == P.TOP_KEYS == 3 and query not in keys
    assert set(keys) == set(planted)
    # Independently: the 3 most cosine-similar positions, the query excluded, best first.
    flat = z.reshape(-1, z.shape[-1])
    flat = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    sim = flat @ flat[np.ravel_multi_index(query, z.shape[:3])]
    order = [np.unravel_index(i, z.shape[:3]) for i in np.argsort(-sim)]
    expected = [tuple(int(v) for v in p) for p in order if tuple(p) != query][:3]
    assert keys == expected
    # Shown: the query's frame and the keys' frames (here all three), each LR size x4.
    assert pic.info["frames"] == [0, 1, 2]
    whites = reds = 0
    for t in pic.info["frames"]:
        tile = tile_of(pic, ("frame", t))
        assert tile.shape == (ZOOM * h, ZOOM * w, 3)
        whites += count(tile, WHITE)
        reds += count(tile, RED)
        for pos, colour in [(query, WHITE)] + [(k, RED) for k in keys]:
            if pos[0] != t:
                continue
            # Latent cell (i, j) of the 4 x 4 map is LR pixels 2i..2i+1, 2j..2j+1: 8 x 8 shown.
            assert pic.info["cells"][pos] == (2 * pos[1], 2 * pos[2], 2, 2)
            y, x, bh, bw = (ZOOM * v for v in pic.info["cells"][pos])
            border = np.zeros(tile.shape[:2], bool)
            border[y:y + bh, x:x + bw] = True
            border[y + 1:y + bh - 1, x + 1:x + bw - 1] = False
            assert (tile[border] == colour).all(), (t, pos)
            inside = tile[y + 1:y + bh - 1, x + 1:x + bw - 1]
            assert count(inside, colour) == 0  # the similarity still shows inside
    # One white outline (28 px around an 8 x 8 cell) and three red ones, nothing else.
    assert whites == 28 and reds == 3 * 28
    # The similarity is on the fixed -1..1 scale: the query's own cell is +1.
    q_tile = tile_of(pic, ("frame", 1))
    y, x = (ZOOM * v for v in pic.info["cells"][query][:2])
    expected_q = P.picture_to_uint8(P.OVERLAY_ALPHA * P.similarity_colors(np.array(1.0))
                            + (1 - P.OVERLAY_ALPHA) * P.grey(lr[1])[0, 0])
    np.testing.assert_array_equal(q_tile[y + 2, x + 2], expected_q)
    bar = tile_of(pic, "colour_bar")
    np.testing.assert_array_equal(bar[0, 0], P.similarity_colors(np.array(-1.0)))
    np.testing.assert_array_equal(bar[0, -1], P.similarity_colors(np.array(1.0)))


def test_long_attention_never_counts_the_query_as_a_key():
    # Every position equally similar (cos = 1 everywhere): still 3 keys, none of them the query.
    z = np.ones((3, 4, 4, 8))
    lr = np.full((3, 8, 8, 3), 50.0)
    pic = P.long_attention_picture(z, lr)
    assert pic.info["query"] == (1, 2, 2)
    assert len(set(pic.info["keys"])) == 3 and (1, 2, 2) not in pic.info["keys"]
    image = np.concatenate([tile_of(pic, ("frame", t)) for t in pic.info["frames"]], axis=1)
    assert count(image, WHITE) == 28 and count(image, RED) == 3 * 28


def test_long_attention_shows_only_the_query_frame_when_the_keys_are_there():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(5, 4, 4, 16))
    for pos in [(2, 0, 0), (2, 3, 3), (2, 0, 3)]:
        z[pos] = z[2, 2, 2]
    pic = P.long_attention_picture(z, np.zeros((5, 7, 8, 3)), block=3)
    assert pic.info["frames"] == [2]
    assert list(k for k in pic.boxes if k != "colour_bar") == [("frame", 2)]
    assert tile_of(pic, ("frame", 2)).shape == (ZOOM * 7, ZOOM * 8, 3)


# ---- cadence, stage, descriptions --------------------------------------------------------------------


def test_pictures_are_logged_at_least_five_times_a_run():
    assert S.MIN_IMAGE_LOGS == 5
    # The reproduce smoke scale sets image_every=100000: still 5 logs in a 20-step run.
    steps = [s for s in range(1, 21) if S.logs_images_at(s, 100_000, 20)]
    assert steps == [4, 8, 12, 16, 20]
    assert S.image_interval(100_000, 20) == 4
    # A short image_every still applies.
    assert S.image_interval(500, 3600) == 500
    assert S.image_interval(3, 20) == 3
    # Fewer steps than MIN_IMAGE_LOGS: every step.
    assert [s for s in range(1, 4) if S.logs_images_at(s, 100_000, 3)] == [1, 2, 3]
    for total in (5, 6, 7, 20, 99, 3600):
        assert sum(S.logs_images_at(s, 100_000, total) for s in range(1, total + 1)) >= 5


def test_stage_text_says_what_each_stage_trains():
    one = S.stage_text(1, 16, 20)
    two = S.stage_text(2, 16, 20, vae_weight=0.5)
    assert one.startswith("stage 1: L_re, variance heads off")
    assert two.startswith("stage 2: L_re + λ·L_vae, variance heads on, from step 17")
    assert "λ = 0.5" in two


def test_every_tag_pattern_has_a_description():
    for tag in ("loss/total", "loss/re", "loss/vae", "psnr/train", "psnr/validation",
                "optimizer/learning_rate", "optimizer/grad_norm", "perf/steps_per_sec",
                "train/stage", "images/lr_sr_hr", "attention/long_corr_0",
                "attention/short_mask_12", "attention/variance_3"):
        assert len(S.describe(tag, strict=True)) > 30, tag
    assert "block 12" in S.describe("attention/short_mask_12")
    assert "1e-6..1e-1" in S.describe("attention/variance_3")
    assert "-1..1" in S.describe("attention/long_corr_0")
    assert "dB" in S.describe("psnr/train")
    with pytest.raises(KeyError):
        S.describe("loss/unknown", strict=True)
    assert S.describe("loss/unknown")  # never empty, never raises during training


# ---- real event files with a tiny real model ---------------------------------------------------------

SCALARS = ("loss/total", "loss/re", "loss/vae", "psnr/train", "psnr/validation",
           "optimizer/learning_rate", "optimizer/grad_norm", "perf/steps_per_sec")
TINY_BOTH = ["model.seq_len=3", "model.num_layers=2", 'model.blocks=["long", "short"]']


def decode_png(value):
    from PIL import Image

    width, height = int(value[0]), int(value[1])
    image = np.asarray(Image.open(io.BytesIO(value[2])).convert("RGB"))
    assert image.shape == (height, width, 3)
    return image


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Summaries of a 3-step run (stage 2 from step 3) written by `TrainingSummaries`."""
    pytest.importorskip("tensorboard", reason="the tensorboard package writes/reads the events")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    from vsr_latent import run_folder
    from vsr_latent.configs import get_config

    config = get_config("table3_vlatn10_7", budget="tiny", overrides=TINY_BOTH)
    model = run_folder.build_model_for(config)
    assert [type(b).__name__ for b in model.attention] == ["LongAttention", "ShortAttention"]
    assert model.variational
    rng = np.random.default_rng(0)
    lr = rng.uniform(0, 255, (2, 3, 8, 8, 3)).astype(np.float32)
    sr, info = model.call_with_attention(lr[:1], training=False)
    sr = sr.numpy()
    hr = rng.uniform(0, 255, (2, 3, 32, 32, 3)).astype(np.float32)
    hr[0, 0] = P.picture_to_uint8(sr[0, 0])  # frame 0: SR == HR, so its error tile is all "0"
    logdir = tmp_path_factory.mktemp("summaries")
    summaries = S.TrainingSummaries(logdir)
    stage_written = []
    for step in (1, 2, 3):
        stage = 1 if step < 3 else 2
        stage_written.append(summaries.stage(step, stage, stage1_steps=2, total_steps=3,
                                             vae_weight=1.0, variational=True))
        summaries.scalars(step, {tag: 0.25 * step for tag in SCALARS})
    images = summaries.images(3, model, lr, hr)
    summaries.close()

    acc = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    acc.Reload()
    events = {
        tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
        for tag in acc.Tags()["tensors"]
    }
    return dict(acc=acc, events=events, images=images, stage_written=stage_written, lr=lr,
                sr=sr, hr=hr, info={k: [np.asarray(v) for v in vs] for k, vs in info.items()})


PICTURE_TAGS = ("images/lr_sr_hr", "attention/long_corr_0", "attention/variance_0",
                "attention/short_mask_1", "attention/variance_1")


def test_event_file_holds_every_tag_with_its_description(written):
    acc, events = written["acc"], written["events"]
    assert set(events) == set(SCALARS) | {"train/stage"} | set(PICTURE_TAGS)
    for tag in events:
        description = acc.SummaryMetadata(tag).summary_description
        assert description.strip(), tag
        assert description == S.describe(tag, strict=True), tag
    for tag in SCALARS:
        assert [(s, float(v)) for s, v in events[tag]] == [(1, 0.25), (2, 0.5), (3, 0.75)]


def test_stage_text_at_the_first_step_and_at_the_switch(written):
    assert written["stage_written"] == [True, False, True]
    texts = [(step, value.item().decode("utf-8")) for step, value in
             written["events"]["train/stage"]]
    assert [step for step, _ in texts] == [1, 3]
    assert texts[0][1] == S.stage_text(1, 2, 3)
    assert texts[0][1].startswith("stage 1: L_re, variance heads off")
    assert texts[1][1].startswith("stage 2: L_re + λ·L_vae, variance heads on, from step 3")


def test_pictures_read_back_pixel_exact(written):
    events, images = written["events"], written["images"]
    assert set(images) == set(PICTURE_TAGS)
    for tag in PICTURE_TAGS:
        ((step, value),) = events[tag]
        assert step == 3
        np.testing.assert_array_equal(decode_png(value), images[tag])


def test_panel_from_the_event_file(written):
    ((_, value),) = written["events"]["images/lr_sr_hr"]
    img = decode_png(value)
    lr, sr, hr = written["lr"][0], written["sr"][0], written["hr"][0]
    layout = P.lr_sr_hr_panel(lr, sr, hr, 4)
    np.testing.assert_array_equal(img, layout.image)
    assert img.shape[1] > img.shape[0]
    for t in (0, 1, 2):
        lr_tile = tile_of(layout, ("lr", t), img).astype(int)
        blocks = lr_tile.reshape(8, 4, 8, 4, 3)
        assert (blocks == blocks[:, :1, :, :1]).all()
        np.testing.assert_array_equal(tile_of(layout, ("sr", t), img), P.picture_to_uint8(sr[t]))
        np.testing.assert_array_equal(tile_of(layout, ("hr", t), img), P.picture_to_uint8(hr[t]))
    first_top = min(top for top, _, _, _ in layout.boxes.values())
    assert (img[:first_top] != BG).any(axis=-1).sum() > 100
    assert (tile_of(layout, ("error", 0), img) == P.error_colors(np.array(0.0))).all()


def test_attention_pictures_from_the_event_file(written):
    events, info, lr = written["events"], written["info"], written["lr"][0]
    decoded = {tag: decode_png(events[tag][0][1]) for tag in PICTURE_TAGS[1:]}
    # The long block's latent map is 4 x 4 for the 8 x 8 LR frames: one cell = 2 x 2 LR pixels
    # = 8 x 8 shown; one white outline (the query), three red ones (its top keys).
    long_pic = P.long_attention_picture(info["z"][0][0], lr, block=0)
    np.testing.assert_array_equal(decoded["attention/long_corr_0"], long_pic.image)
    assert long_pic.info["query"] not in long_pic.info["keys"]
    assert count(decoded["attention/long_corr_0"], WHITE) == 28
    assert count(decoded["attention/long_corr_0"], RED) == 3 * 28
    for t in long_pic.info["frames"]:
        assert long_pic.boxes[("frame", t)][2:] == (32, 32)
    mask_pic = P.short_mask_picture(info["masks"][0][0], lr, block=1)
    np.testing.assert_array_equal(decoded["attention/short_mask_1"], mask_pic.image)
    for i, tag in enumerate(("attention/variance_0", "attention/variance_1")):
        pic = P.variance_picture(info["variance"][i][0], lr, block=i)
        np.testing.assert_array_equal(decoded[tag], pic.image)
        assert pic.boxes[("frame", 1)][2:] == (32, 32)
    assert mask_pic.boxes[("frame", 1)][2:] == (32, 32)
