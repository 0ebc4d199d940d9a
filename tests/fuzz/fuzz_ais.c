/*
 * fuzz_ais.c - the native .ais reader. Each input is read twice: as it is (the checksums reject
 * nearly every mutation, which tests that they are checked), and after its header, section and
 * tensor checksums are recomputed, so that mutations reach the parsers behind them. A file that
 * reads is written back (zstd) and read again. The reader only parses the PIPELINE section; a
 * file that reads has its spec compiled and checked by the runtime's step, as ais_model_load does
 * (ais__model_attach_pipeline), and is loaded through the public ais_model_load_memory once, so
 * that hostile specs reach the pipeline compiler.
 */
#define XXH_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "format/ais_layout.h"
#include "runtime/model.h"

static void fix_tensor_hashes(uint8_t *p, size_t size, uint64_t table_off, uint64_t table_size,
                              uint64_t data_off, uint64_t data_size) {
    ais__cur c = {p + table_off, (size_t)table_size, 0, "fuzz", AIS_OK};
    uint32_t n = ais__cur_u32(&c, "count");
    for (uint32_t i = 0; i < n && !c.st; i++) {
        uint32_t len = ais__cur_u32(&c, "name");
        if (!ais__cur_need(&c, len, "name")) return;
        c.pos += len;
        ais__cur_u32(&c, "dtype");
        uint32_t ndim = ais__cur_u32(&c, "ndim");
        if (ndim > AIS_MAX_DIMS) return;
        for (uint32_t d = 0; d < ndim; d++)
            ais__cur_u64(&c, "dim");
        ais__cur_u32(&c, "encoding");
        uint64_t off = ais__cur_u64(&c, "off"), stored = ais__cur_u64(&c, "stored");
        ais__cur_u64(&c, "raw");
        if (!ais__cur_need(&c, 8, "hash")) return;
        if (off <= data_size && stored <= data_size - off)
            ais__put_le64(p + table_off + c.pos, XXH64(p + data_off + off, (size_t)stored, 0));
        c.pos += 8;
    }
}

static void fix_checksums(uint8_t *p, size_t size) {
    if (size < AIS__HEADER_SIZE) return;
    uint32_t header_size = ais__le32(p + AIS__H_HEADER_SIZE);
    uint32_t count = ais__le32(p + AIS__H_SECTION_COUNT);
    uint32_t entry = ais__le32(p + AIS__H_SECTION_ENTRY_SIZE);
    if (count > AIS__MAX_SECTIONS || entry < AIS__SECTION_ENTRY_SIZE || entry > 4096 ||
        header_size < AIS__HEADER_SIZE || header_size > size ||
        (uint64_t)count * entry > size - header_size)
        return;
    uint64_t data_off = 0, data_size = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < count; i++) {
            uint8_t *e = p + header_size + (size_t)i * entry;
            uint32_t type = ais__le32(e);
            uint64_t off = ais__le64(e + 8), sz = ais__le64(e + 16);
            if (off > size || sz > size - off) continue;
            if (pass == 0 && type == AIS__SEC_DATA) {
                data_off = off;
                data_size = sz;
            }
            if (pass == 1 && type == AIS__SEC_TENSORS)
                fix_tensor_hashes(p, size, off, sz, data_off, data_size);
            if (pass == 1 &&
                ((type >= AIS__SEC_META && type <= AIS__SEC_TENSORS) || type == AIS__SEC_PIPELINE))
                ais__put_le64(e + 24, XXH64(p + off, (size_t)sz, 0));
        }
    }
    memset(p + AIS__H_HASH, 0, 8);
    ais__put_le64(p + AIS__H_HASH, XXH64(p, header_size + (size_t)count * entry, 0));
}

static void roundtrip(const ais__graph *g) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_ais_%d.ais", (int)getpid());
    if (ais__ais_write(g, path, 1) == AIS_OK) {
        ais__graph *h = NULL;
        ais__load_opts o;
        ais__load_opts_default(&o);
        if (ais__model_read_file(path, &o, &h) != AIS_OK) {
            fprintf(stderr, "a written file does not read back: %s\n", ais_last_error());
            abort();
        }
        if (h->n_values != g->n_values || h->n_nodes != g->n_nodes) abort();
        ais__graph_destroy(h);
    }
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ais__graph *g = NULL;
    if (ais__ais_read(data, size, NULL, &g) == AIS_OK) ais__graph_destroy(g);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fix_checksums(copy, size);
    g = NULL;
    if (ais__ais_read(copy, size, NULL, &g) == AIS_OK) {
        /* the section was only parsed: its spec is compiled and checked here */
        if (ais__model_attach_pipeline(g) == AIS_OK) roundtrip(g);
        ais__graph_destroy(g);
        ais_model *m = NULL;
        if (ais_model_load_memory(copy, size, NULL, &m) == AIS_OK) ais_model_destroy(m);
    }
    free(copy);
    return 0;
}
