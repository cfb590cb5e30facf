/* Function symbols of ELF files (see elfsym.h): plain <elf.h> structures over a mapping. */
#define _GNU_SOURCE
#include "elfsym.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOI __attribute__((no_instrument_function))

#if __SIZEOF_POINTER__ == 8
#define ORION_ELFCLASS ELFCLASS64
#define SYM_TYPE ELF64_ST_TYPE
#else
#define ORION_ELFCLASS ELFCLASS32
#define SYM_TYPE ELF32_ST_TYPE
#endif

static NOI int fits(const struct orion_elf *elf, uint64_t offset, uint64_t n) {
    return offset <= elf->size && n <= elf->size - offset;
}

NOI int orion_elf_open(struct orion_elf *elf, const char *path) {
    memset(elf, 0, sizeof *elf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st;
    void *map = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(ElfW(Ehdr)))
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return 0;
    elf->map = map;
    elf->size = (size_t)st.st_size;
    const ElfW(Ehdr) *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ORION_ELFCLASS ||
        eh->e_shentsize != sizeof(ElfW(Shdr)) ||
        !fits(elf, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr)))) {
        orion_elf_close(elf);
        return 0;
    }
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(elf->map + eh->e_shoff);
    static const uint32_t kinds[2] = {SHT_SYMTAB, SHT_DYNSYM};
    for (int k = 0; k < 2; k++)
        for (unsigned i = 0; i < eh->e_shnum; i++) {
            if (sh[i].sh_type != kinds[k] || sh[i].sh_link >= eh->e_shnum) continue;
            const ElfW(Shdr) *str = &sh[sh[i].sh_link];
            if (!fits(elf, sh[i].sh_offset, sh[i].sh_size) ||
                !fits(elf, str->sh_offset, str->sh_size) || !str->sh_size)
                continue;
            struct orion_symtab *t = &elf->tabs[elf->ntabs++];
            t->syms = (const ElfW(Sym) *)(elf->map + sh[i].sh_offset);
            t->count = sh[i].sh_size / sizeof(ElfW(Sym));
            t->strs = (const char *)(elf->map + str->sh_offset);
            t->strs_size = str->sh_size;
            break;
        }
    return 1;
}

NOI void orion_elf_close(struct orion_elf *elf) {
    if (elf->map) munmap((void *)elf->map, elf->size);
    memset(elf, 0, sizeof *elf);
}

static NOI const char *sym_name(const struct orion_symtab *t, const ElfW(Sym) *s) {
    if (!s->st_name || s->st_name >= t->strs_size) return NULL;
    const char *name = t->strs + s->st_name;
    return memchr(name, 0, t->strs_size - s->st_name) ? name : NULL;
}

static NOI int is_function(const ElfW(Sym) *s) {
    int type = SYM_TYPE(s->st_info);
    return (type == STT_FUNC || type == STT_GNU_IFUNC) && s->st_shndx != SHN_UNDEF &&
           s->st_value != 0;
}

NOI void orion_elf_functions(const struct orion_elf *elf,
                             void (*fn)(void *ctx, const char *name, uintptr_t addr, size_t size),
                             void *ctx) {
    for (int k = 0; k < elf->ntabs; k++) {
        const struct orion_symtab *t = &elf->tabs[k];
        for (size_t i = 0; i < t->count; i++) {
            const ElfW(Sym) *s = &t->syms[i];
            const char *name = is_function(s) ? sym_name(t, s) : NULL;
            if (name) fn(ctx, name, (uintptr_t)s->st_value, (size_t)s->st_size);
        }
    }
}

NOI int orion_elf_mentions(const struct orion_elf *elf, const char *symbol) {
    for (int k = 0; k < elf->ntabs; k++) {
        const struct orion_symtab *t = &elf->tabs[k];
        for (size_t i = 0; i < t->count; i++) {
            const char *name = sym_name(t, &t->syms[i]);
            if (name && !strcmp(name, symbol)) return 1;
        }
    }
    return 0;
}

NOI const char *orion_elf_function_at(const struct orion_elf *elf, uintptr_t addr) {
    for (int k = 0; k < elf->ntabs; k++) {
        const struct orion_symtab *t = &elf->tabs[k];
        for (size_t i = 0; i < t->count; i++) {
            const ElfW(Sym) *s = &t->syms[i];
            size_t size = s->st_size ? s->st_size : 1;
            if (is_function(s) && addr >= s->st_value && addr - s->st_value < size) {
                const char *name = sym_name(t, s);
                if (name) return name;
            }
        }
    }
    return NULL;
}

/* The loader relocates most of a dynamic section's addresses in place; a read-only one
 * (the vDSO's, some architectures') keeps them relative to the module's base. */
static NOI uintptr_t dyn_address(const struct dl_phdr_info *info, uintptr_t ptr) {
    return ptr < info->dlpi_addr ? ptr + info->dlpi_addr : ptr;
}

static NOI int named(const char *name, const char *const *symbols) {
    for (; *symbols; symbols++)
        if (name[0] == (*symbols)[0] && !strcmp(name, *symbols)) return 1;
    return 0;
}

/* How many dynamic symbols a GNU hash table covers (the table has no count): past the
 * highest bucket's start, its chain runs to the entry marked last. */
static NOI size_t gnu_hash_count(const uint32_t *table) {
    uint32_t nbuckets = table[0], symoffset = table[1], bloom_words = table[2];
    const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)(table + 4) + bloom_words);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t last = 0;
    for (uint32_t i = 0; i < nbuckets; i++)
        if (buckets[i] > last) last = buckets[i];
    if (last < symoffset) return symoffset;
    while (!(chain[last - symoffset] & 1)) last++;
    return (size_t)last + 1;
}

NOI int orion_module_imports(const struct dl_phdr_info *info, const char *const *symbols) {
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn) return 0;
    uintptr_t symtab = 0, strtab = 0, gnu_hash = 0, hash = 0;
    size_t strsz = 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_SYMTAB: symtab = dyn_address(info, dyn->d_un.d_ptr); break;
        case DT_STRTAB: strtab = dyn_address(info, dyn->d_un.d_ptr); break;
        case DT_STRSZ: strsz = dyn->d_un.d_val; break;
        case DT_GNU_HASH: gnu_hash = dyn_address(info, dyn->d_un.d_ptr); break;
        case DT_HASH: hash = dyn_address(info, dyn->d_un.d_ptr); break;
        }
    }
    if (!symtab || !strtab) return 0;
    size_t count = gnu_hash ? gnu_hash_count((const uint32_t *)gnu_hash)
                 : hash ? ((const uint32_t *)hash)[1] /* nchain */ : 0;
    const ElfW(Sym) *syms = (const ElfW(Sym) *)symtab;
    const char *strs = (const char *)strtab;
    for (size_t i = 1; i < count; i++)
        if (syms[i].st_shndx == SHN_UNDEF && syms[i].st_name < strsz &&
            named(strs + syms[i].st_name, symbols))
            return 1;
    return 0;
}
