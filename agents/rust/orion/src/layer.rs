//! `orion::layer()`: a `tracing_subscriber::Layer` that records the spans of an application
//! instrumented with `tracing` (`#[tracing::instrument]`, `info_span!`) as calls — their
//! fields as arguments — and its events as event records, with no new annotations.
//!
//! ```ignore
//! use tracing_subscriber::prelude::*;
//! tracing_subscriber::registry().with(orion::layer()).init();
//! ```

use crate::{writer, Call, Captured};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id};
use tracing_core::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The layer; see the module's documentation.
pub struct OrionLayer {
    functions: Mutex<HashMap<usize, u32>>, // a span's metadata (its call site) -> function
}

/// A layer that records `tracing` spans and events into the process's trace.
pub fn layer() -> OrionLayer {
    OrionLayer {
        functions: Mutex::new(HashMap::new()),
    }
}

/// A span's fields, captured when it is created, recorded with its first entry.
struct Fields(Vec<(&'static str, Captured)>);

/// The calls a span's entries opened on this thread, innermost last.
struct Entered(Vec<Call>);

struct Capture<'a>(&'a mut Vec<(&'static str, Captured)>);

impl Visit for Capture<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((
            field.name(),
            Captured {
                type_name: "dyn Debug",
                text: Some(format!("{value:?}")),
            },
        ));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((
            field.name(),
            Captured {
                type_name: "&str",
                text: Some(format!("{value:?}")),
            },
        ));
    }
}

impl OrionLayer {
    fn function(&self, metadata: &'static Metadata<'static>) -> u32 {
        let key = metadata as *const Metadata<'static> as usize;
        let mut functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        *functions.entry(key).or_insert_with(|| {
            writer::register_function(
                metadata.name(),
                metadata.module_path().unwrap_or(metadata.target()),
                metadata.file().unwrap_or(""),
                metadata.line().unwrap_or(0),
            )
        })
    }
}

impl<S> Layer<S> for OrionLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        attrs.record(&mut Capture(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Fields(fields));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let function = self.function(span.metadata());
        let fields = span.extensions_mut().remove::<Fields>().map(|f| f.0);
        let call = writer::enter(function, || fields.unwrap_or_default());
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<Entered>() {
            Some(entered) => entered.0.push(call),
            None => extensions.insert(Entered(vec![call])),
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let call = span
            .extensions_mut()
            .get_mut::<Entered>()
            .and_then(|entered| entered.0.pop());
        drop(call); // records the return (or the unwind of a panic passing through)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        writer::event("log", || {
            let mut fields = Vec::new();
            event.record(&mut Capture(&mut fields));
            let mut attrs = vec![
                ("level", metadata.level().to_string()),
                ("target", metadata.target().to_string()),
            ];
            for (name, value) in fields {
                let text = value.text.unwrap_or_default();
                // A string field's text without the quotes Debug gave it.
                let plain = (name == "message" || value.type_name == "&str")
                    .then(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')))
                    .flatten();
                attrs.push((name, plain.map(str::to_string).unwrap_or(text)));
            }
            attrs
        });
    }
}
