// Linked against liborion++: a caught exception, a named scope; `throw` as first argument
// makes the exception escape main (std::terminate, then SIGABRT).
#include <cstring>
#include <stdexcept>

#include "orion.hpp"

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

static int parse(const char *text) {
    if (std::strcmp(text, "bad") == 0) throw ConfigError("cannot parse 'bad'");
    return 1;
}

static int tolerant(const char *text) {
    try {
        return parse(text);
    } catch (const ConfigError &) {
        return 0;
    }
}

int main(int argc, char **argv) {
    ORION_TRACE();
    int ok = tolerant("bad") + tolerant("good");
    if (argc > 1 && std::strcmp(argv[1], "throw") == 0) {
        ORION_TRACE_NAMED("strict parse");
        parse("bad");
    }
    return ok == 1 ? 0 : 1;
}
