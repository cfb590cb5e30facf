// The C++ layer of liborion: exception capture (by interposing __cxa_throw and
// __cxa_rethrow) and std::terminate capture. Built as liborion++.so on top of liborion.so.
#include <cxxabi.h>
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <typeinfo>

#include "orion.h"

extern "C" int orion_tracing();  // liborion: is this process traced?

namespace {

std::terminate_handler previous_terminate = nullptr;

ORION_NOINSTR std::string demangled(const std::type_info *type) {
    if (!type) return "unknown";
    const char *name = type->name();
    if (*name == '*') name++;
    int status = 0;
    char *out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string result = status == 0 && out ? out : name;
    std::free(out);
    return result;
}

// what() of the thrown object when its type derives from std::exception.
ORION_NOINSTR const char *what_of(void *object, const std::type_info *type) {
    void *adjusted = object;
    if (type && typeid(std::exception).__do_catch(type, &adjusted, 1))
        return static_cast<std::exception *>(adjusted)->what();
    return "";
}

// The C++ ABI's per-thread exception state (Itanium C++ ABI, 2.2.2; libstdc++ and
// libc++abi alike): liborion reads the count of uncaught exceptions to tell the frames an
// exception leaves from calls returning meanwhile.
struct EhGlobals {
    void *caught_exceptions;
    unsigned int uncaught_exceptions;
};

ORION_NOINSTR const unsigned *uncaught_count() {
    return &reinterpret_cast<EhGlobals *>(abi::__cxa_get_globals())->uncaught_exceptions;
}

[[noreturn]] ORION_NOINSTR void on_terminate() {
    std::string type = "std::terminate";
    std::string message = "terminate called without an active exception";
    if (std::type_info *active = abi::__cxa_current_exception_type()) {
        type = demangled(active);
        message.clear();
        try {
            std::rethrow_exception(std::current_exception());
        } catch (const std::exception &e) {
            message = e.what();
        } catch (...) {
        }
    }
    if (orion_tracing()) orion_crash("exception", type.c_str(), message.c_str());
    if (previous_terminate) previous_terminate();
    std::abort();
}

struct Init {
    ORION_NOINSTR Init() {
        previous_terminate = std::set_terminate(on_terminate);
    }
} init;

}  // namespace

extern "C" {

void orion_cxx_throwing(const unsigned *uncaught);  // liborion: unwinding starts here

typedef void (*throw_fn)(void *, std::type_info *, void (*)(void *));
typedef void (*rethrow_fn)();

// Every C++ throw goes through here: record it, then throw for real (noreturn, as
// <cxxabi.h> declares it: clang refuses a [[noreturn]] added on this definition).
ORION_NOINSTR void __cxa_throw(void *object, std::type_info *type,
                                void (*destructor)(void *)) {
    static throw_fn real = reinterpret_cast<throw_fn>(dlsym(RTLD_NEXT, "__cxa_throw"));
    if (orion_tracing()) {  // every C++ program's throws come here: record a traced one's
        orion_exception(demangled(type).c_str(), what_of(object, type));
        orion_cxx_throwing(uncaught_count());
    }
    real(object, type, destructor);
    __builtin_unreachable();
}

// `throw;` sends the caught exception on from the handler's frame.
ORION_NOINSTR void __cxa_rethrow() {
    static rethrow_fn real = reinterpret_cast<rethrow_fn>(dlsym(RTLD_NEXT, "__cxa_rethrow"));
    orion_cxx_throwing(uncaught_count());
    real();
    __builtin_unreachable();
}
}

// std::rethrow_exception throws without __cxa_throw or __cxa_rethrow.
namespace std {
ORION_NOINSTR void rethrow_exception(exception_ptr thrown) {
    using real_fn = void (*)(exception_ptr);
    static real_fn real = reinterpret_cast<real_fn>(dlsym(
        RTLD_NEXT, "_ZSt17rethrow_exceptionNSt15__exception_ptr13exception_ptrE"));
    orion_cxx_throwing(uncaught_count());
    real(thrown);
    __builtin_unreachable();
}
}
