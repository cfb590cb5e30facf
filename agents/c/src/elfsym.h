/* Function symbols of ELF files, read from a private read-only mapping of the file.
 *
 * The agent uses them twice: at start (and for each dlopen'ed module) to turn the
 * ORION_INCLUDE_FUNCS / ORION_EXCLUDE_FUNCS name patterns into address ranges, and once per
 * trace to name the root function in the summary. Opening, looking up and closing use
 * open/fstat/mmap/munmap/close only (no allocation), so a crash handler may call them. */
#ifndef ORION_ELFSYM_H
#define ORION_ELFSYM_H

#include <link.h>
#include <stddef.h>
#include <stdint.h>

struct orion_symtab {
    const ElfW(Sym) *syms;
    size_t count;
    const char *strs;
    size_t strs_size;
};

struct orion_elf {
    const uint8_t *map;
    size_t size;
    struct orion_symtab tabs[2]; /* .symtab (static functions too), then .dynsym */
    int ntabs;
};

/* Map `path` and find its symbol tables; 0 when it is not a readable ELF of our class. */
int orion_elf_open(struct orion_elf *elf, const char *path);
void orion_elf_close(struct orion_elf *elf);

/* Call `fn` for every defined function symbol (link-time address and size). */
void orion_elf_functions(const struct orion_elf *elf,
                         void (*fn)(void *ctx, const char *name, uintptr_t addr, size_t size),
                         void *ctx);

/* Does any symbol table name `symbol` (defined or not)? */
int orion_elf_mentions(const struct orion_elf *elf, const char *symbol);

/* The name of the function whose code holds link-time address `addr`, or NULL. */
const char *orion_elf_function_at(const struct orion_elf *elf, uintptr_t addr);

/* Does the loaded module `info` import a symbol named in `symbols` (NULL-terminated):
 * does it call that function, or take its address? Read from the module's dynamic symbol
 * table in memory: no file is opened. */
int orion_module_imports(const struct dl_phdr_info *info, const char *const *symbols);

#endif
