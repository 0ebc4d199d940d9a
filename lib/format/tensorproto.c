/* tensorproto.c - a TensorProto file (the input_*.pb / output_*.pb of the ONNX backend tests). */
#include "onnx_tensor.h"

ais_status ais__tensorproto_read(const void *data, size_t size, ais_tensor **out, char **name) {
    if (name) *name = NULL;
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais__tensorproto_read: out is NULL");
    *out = NULL;
    if (!data && size)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais__tensorproto_read: data is NULL");
    ais__pb r;
    ais__pb_init(&r, data, size);
    /* .pb files are small and their buffer is usually freed right after: always copy. */
    ais_status st = ais__onnx_tensor_read(&r, NULL, false, out, name);
    if (st != AIS_OK) ais__error_prefix("TensorProto");
    return st;
}

/* SequenceProto.elem_type / OptionalProto.elem_type values, and their fields. */
enum { AIS__SEQ_ELEM_TENSOR = 1, AIS__SEQ_ELEM_SEQUENCE = 3 };
enum { AIS__SEQ_F_ELEM_TYPE = 2, AIS__SEQ_F_TENSOR = 3, AIS__SEQ_F_SEQUENCE = 5 };

static ais_status ais__seqproto_items(const ais__pb *msg, int depth, ais_tensor **out) {
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    ais_status st;
    uint64_t elem_type = 0;
    size_t n_tensors = 0, n_seqs = 0;
    ais__pb_field seq_f = {0};
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number == AIS__SEQ_F_ELEM_TYPE) {
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_VARINT, "elem_type"));
            elem_type = f.v;
        } else if (f.number == AIS__SEQ_F_TENSOR) {
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "tensor_values"));
            n_tensors++;
        } else if (f.number == AIS__SEQ_F_SEQUENCE) {
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "sequence_value"));
            seq_f = f;
            n_seqs++;
        } else if (f.number == 4 || f.number == 6 || f.number == 7) {
            return ais__error(AIS_E_UNSUPPORTED,
                              "only sequences of dense tensors are supported "
                              "(field %u at offset %zu)",
                              f.number, f.offset);
        }
    }
    AIS__CHECK(st);
    if (elem_type == AIS__SEQ_ELEM_SEQUENCE && n_seqs == 1 && n_tensors == 0 && depth == 0) {
        /* An OptionalProto holding a sequence: its bytes are those of a SequenceProto of one
         * sequence, which (nested sequences being unsupported) cannot be meant. */
        ais__pb sub;
        AIS__CHECK(ais__pb_sub(&r, &seq_f, &sub));
        return ais__seqproto_items(&sub, 1, out);
    }
    if (elem_type != AIS__SEQ_ELEM_TENSOR && !(elem_type == 0 && n_seqs == 0))
        return ais__error(AIS_E_UNSUPPORTED,
                          "elem_type %llu: only sequences of tensors are "
                          "supported",
                          (unsigned long long)elem_type);
    ais_tensor *seq = NULL, *item = NULL;
    r = *msg;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number != AIS__SEQ_F_TENSOR) continue;
        ais__pb sub;
        if ((st = ais__pb_sub(&r, &f, &sub)) != AIS_OK ||
            (st = ais__onnx_tensor_read(&sub, NULL, false, &item, NULL)) != AIS_OK)
            break;
        if (!seq && (st = ais__seq_tensor_new(item->dtype, n_tensors, &seq)) != AIS_OK) break;
        if (item->dtype != ais__seq(seq)->elem_dtype) {
            st = ais__error(AIS_E_FORMAT, "item %zu is %s, item 0 is %s", ais__seq(seq)->n,
                            ais_dtype_name(item->dtype), ais_dtype_name(ais__seq(seq)->elem_dtype));
            break;
        }
        if ((st = ais__seq_insert(ais__seq(seq), ais__seq(seq)->n, item)) != AIS_OK) break;
        ais_tensor_destroy(item);
        item = NULL;
    }
    ais_tensor_destroy(item);
    /* An empty sequence does not say its elements' dtype: f32 stands in. */
    if (st == AIS_OK && !seq) st = ais__seq_tensor_new(AIS_DTYPE_F32, 0, &seq);
    if (st != AIS_OK) {
        ais_tensor_destroy(seq);
        return st;
    }
    *out = seq;
    return AIS_OK;
}

ais_status ais__sequenceproto_read(const void *data, size_t size, ais_tensor **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais__sequenceproto_read: out is NULL");
    *out = NULL;
    if (!data && size)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais__sequenceproto_read: data is NULL");
    ais__pb r;
    ais__pb_init(&r, data, size);
    ais_status st = ais__seqproto_items(&r, 0, out);
    if (st != AIS_OK) ais__error_prefix("SequenceProto");
    return st;
}
