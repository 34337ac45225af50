//! The page's views: each draws one part of the state and says which parts it shows, so it
//! redraws itself when they change. Adding a view is a new file here and one line in
//! [`all`]; nothing else in the page needs to know.

mod chart;
mod grid;
mod metrics;
mod sketch;

use std::cell::RefCell;
use std::rc::Rc;

use super::app::{App, Changes};
use super::dom;

/// One part of the page drawn from the state.
pub trait View {
    /// The parts of the state this view shows: a change to any of them redraws it.
    fn shows(&self) -> Changes;
    /// Redraws from `app`; `changes` says what changed since the last render.
    fn redraw(&mut self, app: &App, changes: Changes);
}

/// Every view of the page.
pub fn all() -> Views {
    Views(vec![
        Box::new(grid::Grid::default()),
        Box::new(sketch::Sketch::default()),
        Box::new(chart::Chart::default()),
        Box::new(metrics::MetricsTable),
    ])
}

pub struct Views(Vec<Box<dyn View>>);

impl Views {
    /// Redraws the views that show something in `changes`.
    pub fn render(&mut self, app: &App, changes: Changes) {
        for view in &mut self.0 {
            if view.shows().intersects(changes) {
                view.redraw(app, changes);
            }
        }
    }
}

/// Sets up the views' own inputs (the sketch pad); `changed` reports what they change.
pub fn install(changed: fn(Changes)) {
    sketch::install_pad(changed);
    chart::warm_up();
}

/// Runs asynchronous redraws one at a time, each in a task of its own; a redraw asked for
/// while one runs replaces any other waiting one, so bursts (pointer moves, training
/// updates) coalesce into the newest.
pub struct Latest<J> {
    state: Rc<RefCell<(bool, Option<J>)>>,
}

impl<J> Default for Latest<J> {
    fn default() -> Self {
        Self {
            state: Rc::new(RefCell::new((false, None))),
        }
    }
}

impl<J: 'static> Latest<J> {
    pub fn submit<F: Future<Output = ()> + 'static>(&self, job: J, run: fn(J) -> F) {
        let mut state = self.state.borrow_mut();
        state.1 = Some(job);
        if std::mem::replace(&mut state.0, true) {
            return;
        }
        let shared = self.state.clone();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                dom::yield_task().await;
                let next = shared.borrow_mut().1.take();
                let Some(job) = next else {
                    shared.borrow_mut().0 = false;
                    return;
                };
                run(job).await;
            }
        });
    }
}
