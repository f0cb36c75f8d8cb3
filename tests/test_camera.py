"""The 3-D camera in the link (issue 12): each 3-D figure's camera is a state field
(polyviz.state.camera), validated like every other field, left out of the link while it is
the figure's own, and the server draws a link's figure from it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as hs

import dash_http
from polyviz import state as st
from polyviz.figures import with_camera
from polyviz.pages.compare import CompareState
from polyviz.pages.sphere import SphereState
from polyviz.pages.stretch_fold import StretchFoldState
from polyviz.pages.train import TrainState


# --- validation ------------------------------------------------------------------------------

def test_a_camera_in_the_link_is_read_exactly():
    state, notices = st.from_query(StretchFoldState, "op=shift&surface_cam=0.3,-2,0.5")
    assert notices == [] and state.op == "shift"
    assert state.surface_cam == "0.3,-2,0.5" and state.sphere_cam == ""
    assert st.camera_layout(state.surface_cam) == {"eye": {"x": 0.3, "y": -2.0, "z": 0.5},
                                                   "center": {"x": 0.0, "y": 0.0, "z": 0.0}}
    assert st.camera_layout("") is None


def test_six_numbers_are_the_eye_and_the_centre_it_looks_at():
    state, notices = st.from_query(SphereState, "cam=1,2,0.5,0.1,-0.2,0")
    assert notices == [] and state.cam == "1,2,0.5,0.1,-0.2,0"
    assert st.camera_layout(state.cam) == {"eye": {"x": 1.0, "y": 2.0, "z": 0.5},
                                           "center": {"x": 0.1, "y": -0.2, "z": 0.0}}
    # a centre at the origin is Plotly's default: the short form says the same
    assert st.from_query(SphereState, "cam=1,2,0.5,0,0,0")[0].cam == "1,2,0.5"


def test_numbers_are_rounded_to_thousandths():
    state, notices = st.from_query(SphereState, "cam=1.23456,-0.0001,2.0004")
    assert notices == [] and state.cam == "1.235,0,2"


@pytest.mark.parametrize("raw", ["abc", "1,2", "1,2,3,4", "1,2,nan", "1,,3", "1;2;3", "1,2,3" + ",1" * 200])
def test_a_malformed_camera_falls_back_to_the_figures_own_with_a_notice_naming_the_field(raw):
    state, notices = st.validate(StretchFoldState, {"sphere_cam": raw})
    assert state.sphere_cam == "" and len(notices) == 1
    assert notices[0].startswith("sphere_cam = ") and "is not allowed" in notices[0]
    assert "3 numbers eye_x,eye_y,eye_z" in notices[0] and "from -10 to 10" in notices[0]
    assert "figure's own view" in notices[0]


@pytest.mark.parametrize("raw", [[1, 2, 3], {"x": 1}, 5, True])
def test_payload_types_a_link_never_holds_are_refused(raw):
    state, notices = st.validate(SphereState, {"cam": raw})
    assert state.cam == "" and len(notices) == 1 and "cam = " in notices[0]


def test_an_out_of_range_camera_is_clamped_with_a_notice():
    state, notices = st.from_query(TrainState, "animation_cam=50,-1e9,inf")
    # inf is not a finite number: refused whole, not clamped
    assert state.animation_cam == "" and "is not allowed" in notices[0]
    state, notices = st.from_query(TrainState, "animation_cam=50,-1e9,1")
    assert state.animation_cam == "10,-10,1"
    assert notices == ["animation_cam = '50,-1e9,1' is out of range (3 numbers eye_x,eye_y,eye_z, or 6 (the eye, "
                       "then the centre it looks at), each from -10 to 10; or empty for the figure's own view); "
                       "using 10,-10,1."]


def test_an_eye_on_the_point_it_looks_at_is_refused():
    state, notices = st.from_query(SphereState, "cam=0.5,0.5,0.5,0.5,0.5,0.5")
    assert state.cam == "" and "puts the eye on the point it looks at" in notices[0]
    assert st.from_query(SphereState, "cam=0,0,0")[0].cam == ""


def test_an_empty_camera_is_the_figures_own_without_a_notice():
    state, notices = st.from_query(StretchFoldState, "surface_cam=&sphere_cam=%20")
    assert state == StretchFoldState() and notices == []


# --- the link ----------------------------------------------------------------------------------

def test_the_figures_own_camera_is_left_out_of_the_link():
    for cls in (StretchFoldState, SphereState, TrainState, CompareState):
        assert "cam=" not in st.to_query(cls())


def test_a_turned_camera_is_in_the_link_with_its_commas():
    query = st.to_query(StretchFoldState(surface_cam="0.3,-2,0.5"))
    assert query.endswith("&surface_cam=0.3,-2,0.5") and "sphere_cam" not in query


CAMERA_NUMBER = hs.integers(-10_000, 10_000).map(lambda k: k / 1000)


@given(hs.lists(CAMERA_NUMBER, min_size=3, max_size=3), hs.lists(CAMERA_NUMBER, min_size=3, max_size=3),
       hs.booleans())
def test_every_camera_round_trips_through_the_link(eye, centre, panned):
    text = st.valid_camera(",".join(map(str, eye + centre if panned else eye)))
    if not text:  # the eye on its centre: no camera
        return
    state = TrainState(seed=7, boundary_cam=text, checkpoints_cam=text)
    again, notices = st.from_query(TrainState, st.to_query(state))
    assert notices == [] and again == state
    assert st.to_query(again) == st.to_query(state)


def test_a_camera_is_no_part_of_a_training_run():
    """The run's cache key: turning a figure must not make a trained run 'not trained yet'."""
    turned = TrainState(boundary_cam="1,2,3", animation_cam="0,0,2", checkpoints_cam="2,0,1,0,0,0.5")
    assert turned.training_fields() == TrainState().training_fields()
    assert turned.sweep_fields() == TrainState().sweep_fields()


def test_with_camera_changes_only_the_scene_camera_of_a_copy():
    spec = {"data": [], "layout": {"scene": {"aspectmode": "cube", "camera": {"up": {"x": 0, "y": 0, "z": 1},
                                                                              "eye": {"x": 1, "y": 1, "z": 1}}}}}
    turned = with_camera(spec, "-1,0.5,2")
    assert turned["layout"]["scene"] == {"aspectmode": "cube", "camera": {"up": {"x": 0, "y": 0, "z": 1},
                                                                          "eye": {"x": -1.0, "y": 0.5, "z": 2.0},
                                                                          "center": {"x": 0.0, "y": 0.0, "z": 0.0}}}
    assert spec["layout"]["scene"]["camera"]["eye"] == {"x": 1, "y": 1, "z": 1}  # the original is untouched
    assert with_camera(spec, "") is spec
    flat = {"data": [], "layout": {"xaxis": {}}}  # a 2-D figure has no camera to turn
    assert with_camera(flat, "1,2,3") is flat


# --- the server draws a link's figure from its camera ---------------------------------------------

def server_figure(client, url: str, graph_id: str) -> dict:
    """The figure the server sends for ``graph_id`` on the page of ``url``: the page's layout
    from the router, then the graph's callback with the values that layout holds (its first
    call, as the browser makes it)."""
    props = dash_http.by_id(dash_http.route(client, url)["layout"])
    dep = dash_http.find_callback(dash_http.dependencies(client), graph_id, "figure")
    values = {f"{item['id']}.{item['property']}": props[item["id"]].get(item["property"])
              for item in dep["inputs"] + dep.get("state", [])}
    response = dash_http.post(client, dash_http.payload(dep, values, changed=[]))
    assert response.status_code == 200, response.data[:300]
    return response.get_json()["response"][graph_id]["figure"]


def eye_of(figure) -> dict:
    return figure["layout"]["scene"]["camera"]["eye"]


def test_the_stretch_fold_link_draws_each_3d_panel_from_its_own_camera(client):
    url = "/stretch-fold?op=shift&t=1.5&surface_cam=0.3,-2,0.5&sphere_cam=-1.2,0.4,0.9,0,0,0.2"
    surface = server_figure(client, url, "sf-surface")
    assert eye_of(surface) == {"x": 0.3, "y": -2.0, "z": 0.5}
    sphere = server_figure(client, url, "sf-sphere")
    assert eye_of(sphere) == {"x": -1.2, "y": 0.4, "z": 0.9}
    assert sphere["layout"]["scene"]["camera"]["center"] == {"x": 0.0, "y": 0.0, "z": 0.2}
    # without a camera in the link: the figure's own
    assert eye_of(server_figure(client, "/stretch-fold?op=shift", "sf-surface")) == {"x": 1.5, "y": -1.6, "z": 1.0}


def test_the_sphere_link_draws_its_scene_from_its_camera(client):
    for dim in (3, 4):
        scene = server_figure(client, f"/sphere?dim={dim}&neurons=6&cam=2.1,-0.3,0.7", "sp-scene")
        assert eye_of(scene) == {"x": 2.1, "y": -0.3, "z": 0.7}
    assert eye_of(server_figure(client, "/sphere?dim=3", "sp-scene")) == {"x": 1.05, "y": 1.05, "z": 1.0}


def test_a_bad_camera_in_the_link_is_a_notice_on_the_page(client):
    props = dash_http.by_id(dash_http.route(client, "/sphere?cam=up")["layout"])
    assert "cam = 'up' is not allowed" in dash_http.text(props["sp-notices"]["children"])
    assert props["sp-cameras"]["data"]["cams"] == {"cam": ""}


def test_the_train_link_draws_its_3d_figures_from_their_cameras(client):
    """An octant-sphere run (3-D input: the boundary is a 3-D scene too), opened by a link with
    the three cameras."""
    from callbacks import train as cb
    from services import jobs, run_store

    state = st.validate(TrainState, dict(dataset="octant_sphere", n=200, depth=2, steps=40, seed=3))[0]
    outcome = jobs.run_job(jobs.new_job(state, "train"), jobs.TRAIN, None)
    assert outcome.key == run_store.run_key(state.training_fields())
    cams = "&boundary_cam=0.4,1.9,0.6&animation_cam=-2,0.1,0.3&checkpoints_cam=1,1,1,0,0,-0.25"
    props = dash_http.by_id(dash_http.route(client, "/train?" + st.to_query(state) + cams)["layout"])
    _curves, boundary, animation, checkpoints = cb.render_results(outcome.key, outcome.key,
                                                                  props["tr-cameras"]["data"])[:4]
    assert eye_of(boundary) == {"x": 0.4, "y": 1.9, "z": 0.6}
    assert eye_of(animation) == {"x": -2.0, "y": 0.1, "z": 0.3}
    assert eye_of(checkpoints) == {"x": 1.0, "y": 1.0, "z": 1.0}
    assert checkpoints["layout"]["scene"]["camera"]["center"] == {"x": 0.0, "y": 0.0, "z": -0.25}
    # the same run without cameras: the figures' own (Plotly's default, none set)
    plain = cb.render_results(outcome.key, outcome.key, None)[2]
    assert "camera" not in plain["layout"]["scene"]
