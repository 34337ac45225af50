//! Small typed helpers over `web-sys` for the page's elements.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Document, Element, HtmlElement, Window};

pub fn window() -> Window {
    web_sys::window().expect("a browser window")
}

pub fn document() -> Document {
    window().document().expect("a document")
}

/// The element with `id`, cast to `T`. The ids are the page's contract (index.html).
pub fn get<T: JsCast>(id: &str) -> T {
    document()
        .get_element_by_id(id)
        .unwrap_or_else(|| panic!("index.html lacks #{id}"))
        .dyn_into::<T>()
        .unwrap_or_else(|_| panic!("#{id} has an unexpected element type"))
}

pub fn set_text(id: &str, text: &str) {
    get::<HtmlElement>(id).set_text_content(Some(text));
}

pub fn set_attr(element: &Element, name: &str, value: &str) {
    element
        .set_attribute(name, value)
        .expect("settable attribute");
}

/// Milliseconds since the page started (`performance.now()`).
pub fn now() -> f64 {
    window().performance().expect("performance").now()
}

/// Calls `handler` on `event` of the element `id` for the page's lifetime.
pub fn on<E: JsCast + wasm_bindgen::convert::FromWasmAbi + 'static>(
    id: &str,
    event: &str,
    handler: impl FnMut(E) + 'static,
) {
    let closure = Closure::<dyn FnMut(E)>::new(handler);
    get::<HtmlElement>(id)
        .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
        .expect("listener");
    closure.forget();
}

/// Resolves when the callback handed to `schedule` is called.
async fn called_back(schedule: impl FnOnce(&js_sys::Function)) {
    let mut schedule = Some(schedule);
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(schedule) = schedule.take() {
            schedule(&resolve);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Resolves at the next animation frame.
pub async fn next_frame() {
    called_back(|resolve| {
        window()
            .request_animation_frame(resolve)
            .expect("requestAnimationFrame");
    })
    .await
}

/// Resolves in a new task (`setTimeout(0)`): work after it does not lengthen the current
/// task. (Awaiting the next frame does not suffice: all of a frame's
/// `requestAnimationFrame` callbacks run in one task.)
pub async fn yield_task() {
    called_back(|resolve| {
        window()
            .set_timeout_with_callback(resolve)
            .expect("setTimeout");
    })
    .await
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    called_back(|resolve| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(resolve, ms)
            .expect("setTimeout");
    })
    .await
}

/// Adds a `width × height` canvas with `id` to the page (tests build their own elements).
#[cfg(test)]
pub fn add_canvas(id: &str, width: u32, height: u32) -> web_sys::HtmlCanvasElement {
    let canvas: web_sys::HtmlCanvasElement = document()
        .create_element("canvas")
        .expect("canvas")
        .unchecked_into();
    canvas.set_id(id);
    canvas.set_width(width);
    canvas.set_height(height);
    document()
        .body()
        .expect("a body")
        .append_child(&canvas)
        .expect("appended");
    canvas
}
