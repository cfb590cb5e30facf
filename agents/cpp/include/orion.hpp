// liborion for C++: everything in orion.h, plus RAII scopes and exception capture.
//
//   void handle(Request &r) { ORION_TRACE(); ... }             // a span named after the function
//   { ORION_TRACE_NAMED("parse headers"); ... }                // a named span for a block
//
// Scopes work with or without -finstrument-functions. Link -lorion++ -lorion (or preload
// both): every thrown exception's type and what() are recorded, and std::terminate writes
// the crash with the active exception before the process dies.
#ifndef ORION_HPP
#define ORION_HPP

#include "orion.h"

namespace orion {

class Scope {
public:
    ORION_NOINSTR explicit Scope(const orion_site *site) noexcept {
        if (orion_scope_enter) orion_scope_enter(site);
    }
    ORION_NOINSTR ~Scope() {
        if (orion_scope_exit) orion_scope_exit();
    }
    Scope(const Scope &) = delete;
    Scope &operator=(const Scope &) = delete;
};

}  // namespace orion

#define ORION__CAT2(a, b) a##b
#define ORION__CAT(a, b) ORION__CAT2(a, b)
#define ORION_TRACE_NAMED(label)                                                           \
    static const ::orion_site ORION__CAT(orion__site_, __LINE__) = {label, __FILE__,       \
                                                                     __LINE__};            \
    ::orion::Scope ORION__CAT(orion__scope_, __LINE__)(&ORION__CAT(orion__site_, __LINE__))
#define ORION_TRACE() ORION_TRACE_NAMED(__func__)

#endif
