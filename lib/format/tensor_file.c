/* tensor_file.c - tensor files in the public API: .npy and ONNX TensorProto (.pb). */
#include <string.h>

#include "format.h"

AIS_API ais_status ais_tensor_load(const char *path, ais_tensor **out) {
    if (out) *out = NULL;
    if (!path || !out)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_load: %s is NULL",
                          path ? "out" : "path");
    ais__load_opts o;
    ais__load_opts_default(&o);
    ais__file *f = NULL;
    /* Read, not mapped: the tensor owns a copy and the file is closed at once. */
    AIS__CHECK(ais__file_open(path, o.max_file_bytes, false, &f));
    const ais__format_reader *r = ais__format_sniff(f->data, f->size, false);
    ais_status st = r              ? r->read_tensor(f->data, f->size, out)
                    : f->size == 0 ? ais__error(AIS_E_FORMAT, "tensor file is empty (0 bytes)")
                                   : ais__format_unknown(f->data, f->size, false);
    ais__file_close(f);
    if (st != AIS_OK) ais__error_prefix("%s", path);
    return st;
}

AIS_API ais_status ais_tensor_save_npy(const ais_tensor *tensor, const char *path) {
    if (!tensor || !path)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_save_npy: %s is NULL",
                          path ? "tensor" : "path");
    return ais__npy_write(tensor, path);
}

AIS_API ais_status ais_sequence_load(const char *path, ais_tensor **out) {
    if (out) *out = NULL;
    if (!path || !out)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_sequence_load: %s is NULL",
                          path ? "out" : "path");
    ais__load_opts o;
    ais__load_opts_default(&o);
    ais__file *f = NULL;
    AIS__CHECK(ais__file_open(path, o.max_file_bytes, false, &f));
    ais_status st = ais__sequenceproto_read(f->data, f->size, out);
    ais__file_close(f);
    if (st != AIS_OK) ais__error_prefix("%s", path);
    return st;
}
