/*
 * aistack.hpp - header-only C++17 wrapper of libaistack: RAII ownership, exceptions.
 *
 *   aistack::Model model("model.onnx");
 *   aistack::Session session = model.session();
 *   aistack::Tensor x = aistack::Tensor::wrap(pixels.data(), {1, 64});   // no copy
 *   std::vector<aistack::Tensor> out = session.run({x});
 *   const float *probs = out[0].data<float>();
 *
 * Without tensor objects, on the caller's arrays in one library call (ais_session_run_into):
 *
 *   std::vector<float> probs(10);
 *   std::vector<aistack::BufferView> outs = {aistack::BufferView::output(probs.data(), 10),
 *                                            aistack::BufferView::output()};
 *   session.run_buffers({aistack::BufferView::input(pixels.data(), {1, 64})}, outs);
 *   int64_t digit = outs[1].data<int64_t>()[0];   // in session memory until the next run
 *
 * Every failing call throws aistack::Error carrying the ais_status and ais_last_error()'s
 * message. Model, Session, Tensor and Options are move-only and free their handle in the
 * destructor. A Model may be shared between threads (copies via Model::share() hold a reference);
 * a Session is used by one thread at a time: a run while another thread runs the same Session
 * throws Error with status() AIS_E_BUSY (nothing is changed; the run is not queued), and the
 * Session's destructor waits for a run in flight on another thread.
 */
#ifndef AISTACK_HPP
#define AISTACK_HPP

#include <aistack/aistack.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace aistack {

/* A failed libaistack call: status() is the ais_status, what() "AIS_E_NAME: message". */
class Error : public std::runtime_error {
  public:
    Error(ais_status status, const std::string &message)
        : std::runtime_error(std::string(ais_status_name(status)) + ": " + message),
          status_(status), message_(message) {}
    ais_status status() const noexcept { return status_; }
    const std::string &message() const noexcept { return message_; }

  private:
    ais_status status_;
    std::string message_;
};

/* Throws Error for a failed status, with this thread's last error message. */
inline void check(ais_status status) {
    if (status != AIS_OK) {
        throw Error(status, ais_last_error());
    }
}

inline std::string version() { return ais_version_string(); }

/* The ais_dtype of a C++ element type (F16/BF16 have none: use the ais_dtype overloads). */
template <typename T> constexpr ais_dtype dtype_of() {
    using U = std::remove_cv_t<T>;
    if constexpr (std::is_same_v<U, float>)
        return AIS_DTYPE_F32;
    else if constexpr (std::is_same_v<U, double>)
        return AIS_DTYPE_F64;
    else if constexpr (std::is_same_v<U, int8_t>)
        return AIS_DTYPE_I8;
    else if constexpr (std::is_same_v<U, uint8_t>)
        return AIS_DTYPE_U8;
    else if constexpr (std::is_same_v<U, int16_t>)
        return AIS_DTYPE_I16;
    else if constexpr (std::is_same_v<U, uint16_t>)
        return AIS_DTYPE_U16;
    else if constexpr (std::is_same_v<U, int32_t>)
        return AIS_DTYPE_I32;
    else if constexpr (std::is_same_v<U, uint32_t>)
        return AIS_DTYPE_U32;
    else if constexpr (std::is_same_v<U, int64_t>)
        return AIS_DTYPE_I64;
    else if constexpr (std::is_same_v<U, uint64_t>)
        return AIS_DTYPE_U64;
    else if constexpr (std::is_same_v<U, bool>)
        return AIS_DTYPE_BOOL;
    else
        static_assert(sizeof(T) == 0, "no ais_dtype for this type");
}

/* An owned ais_tensor (move-only). */
class Tensor {
  public:
    Tensor() noexcept = default;
    /* Takes ownership of a handle (may be null). */
    explicit Tensor(ais_tensor *handle) noexcept : t_(handle) {}
    Tensor(Tensor &&o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
    Tensor &operator=(Tensor &&o) noexcept {
        if (this != &o) {
            ais_tensor_destroy(t_);
            t_ = std::exchange(o.t_, nullptr);
        }
        return *this;
    }
    Tensor(const Tensor &) = delete;
    Tensor &operator=(const Tensor &) = delete;
    ~Tensor() { ais_tensor_destroy(t_); }

    /* Zero-filled, owned memory. */
    static Tensor zeros(ais_dtype dtype, const std::vector<int64_t> &shape) {
        ais_tensor *t = nullptr;
        check(ais_tensor_create(dtype, shape.data(), shape.size(), &t));
        return Tensor(t);
    }
    template <typename T> static Tensor zeros(const std::vector<int64_t> &shape) {
        return zeros(dtype_of<T>(), shape);
    }
    /* Over caller memory without copying: `data` must outlive the tensor and its views. */
    static Tensor wrap(ais_dtype dtype, void *data, size_t nbytes,
                       const std::vector<int64_t> &shape) {
        ais_tensor *t = nullptr;
        check(
            ais_tensor_wrap(dtype, shape.data(), shape.size(), data, nbytes, nullptr, nullptr, &t));
        return Tensor(t);
    }
    template <typename T> static Tensor wrap(T *data, const std::vector<int64_t> &shape) {
        size_t n = 1;
        for (int64_t d : shape) {
            if (d < 0) {
                throw Error(AIS_E_SHAPE, "wrap: negative extent in the shape");
            }
            n *= static_cast<size_t>(d);
        }
        return wrap(dtype_of<T>(), const_cast<std::remove_cv_t<T> *>(data), n * sizeof(T), shape);
    }
    /* A tensor that owns a copy of `values`. */
    template <typename T>
    static Tensor from(const std::vector<T> &values, const std::vector<int64_t> &shape) {
        Tensor t = zeros<T>(shape);
        if (t.size() != values.size()) {
            throw Error(AIS_E_SHAPE, "from: " + std::to_string(values.size()) +
                                         " values for a shape of " + std::to_string(t.size()) +
                                         " elements");
        }
        std::copy(values.begin(), values.end(), t.data<T>());
        return t;
    }
    /* Reads a .npy or ONNX TensorProto .pb file. */
    static Tensor load(const std::string &path) {
        ais_tensor *t = nullptr;
        check(ais_tensor_load(path.c_str(), &t));
        return Tensor(t);
    }
    void save_npy(const std::string &path) const {
        check(ais_tensor_save_npy(get(), path.c_str()));
    }
    Tensor copy() const {
        ais_tensor *t = nullptr;
        check(ais_tensor_copy(get(), &t));
        return Tensor(t);
    }
    Tensor reshape(const std::vector<int64_t> &shape) const {
        ais_tensor *t = nullptr;
        check(ais_tensor_reshape(get(), shape.data(), shape.size(), &t));
        return Tensor(t);
    }

    explicit operator bool() const noexcept { return t_ != nullptr; }
    ais_tensor *get() const {
        if (!t_) {
            throw Error(AIS_E_INVALID_ARGUMENT, "empty aistack::Tensor");
        }
        return t_;
    }
    ais_tensor *release() noexcept { return std::exchange(t_, nullptr); }

    ais_dtype dtype() const { return ais_tensor_dtype(get()); }
    std::vector<int64_t> shape() const {
        const int64_t *s = ais_tensor_shape(get());
        return std::vector<int64_t>(s, s + ais_tensor_ndim(get()));
    }
    size_t size() const { return ais_tensor_size(get()); }
    size_t nbytes() const { return ais_tensor_nbytes(get()); }
    void *raw_data() const { return ais_tensor_data(get()); }
    /* Typed access; throws Error(AIS_E_DTYPE) when T is not the tensor's element type. */
    template <typename T> T *data() const {
        if (dtype_of<T>() != dtype()) {
            throw Error(AIS_E_DTYPE, std::string("data<>(): the tensor is ") +
                                         ais_dtype_name(dtype()) + ", not " +
                                         ais_dtype_name(dtype_of<T>()));
        }
        return static_cast<T *>(raw_data());
    }
    template <typename T> std::vector<T> to_vector() const {
        // Sized first, then filled: GCC 12 misreports the (pointer, pointer) constructor here as
        // freeing a non-heap object (-Wfree-nonheap-object) once inlined.
        std::vector<T> v(size());
        std::copy_n(data<T>(), v.size(), v.data());
        return v;
    }

  private:
    ais_tensor *t_ = nullptr;
};

/*
 * A plain buffer for Session::run_buffers (an ais_buffer_view): the run then needs no tensor
 * objects and is one library call. input() describes caller data, read during the call only.
 * output() is where the library reports a result: in the caller's buffer when one is given with
 * room for it, else in memory the session keeps until its next run or its destruction
 * (in_buffer() tells which). Copyable; owns nothing.
 */
class BufferView {
  public:
    BufferView() noexcept = default;
    static BufferView input(ais_dtype dtype, const void *data, size_t nbytes,
                            const std::vector<int64_t> &shape) {
        if (shape.size() > AIS_MAX_DIMS) {
            throw Error(AIS_E_LIMIT, "BufferView: rank " + std::to_string(shape.size()) +
                                         " is above " + std::to_string(AIS_MAX_DIMS));
        }
        BufferView b;
        b.v_.data = const_cast<void *>(data); // inputs are only read
        b.v_.nbytes = nbytes;
        b.v_.dtype = dtype;
        b.v_.ndim = static_cast<uint32_t>(shape.size());
        std::copy(shape.begin(), shape.end(), b.v_.dims);
        return b;
    }
    template <typename T>
    static BufferView input(const T *data, const std::vector<int64_t> &shape) {
        size_t n = 1;
        for (int64_t d : shape) {
            if (d < 0) {
                throw Error(AIS_E_SHAPE, "BufferView: negative extent in the shape");
            }
            n *= static_cast<size_t>(d);
        }
        return input(dtype_of<T>(), data, n * sizeof(T), shape);
    }
    /* An output written to `count` elements at `buffer` when the result fits there; no buffer:
     * the result stays in session memory. */
    template <typename T> static BufferView output(T *buffer, size_t count) {
        BufferView b;
        b.v_.buffer = buffer;
        b.v_.capacity = count * sizeof(T);
        return b;
    }
    static BufferView output() noexcept { return BufferView(); }

    /* After a run (outputs) or as given (inputs). */
    ais_dtype dtype() const noexcept { return static_cast<ais_dtype>(v_.dtype); }
    std::vector<int64_t> shape() const { return std::vector<int64_t>(v_.dims, v_.dims + v_.ndim); }
    size_t nbytes() const noexcept { return static_cast<size_t>(v_.nbytes); }
    void *raw_data() const noexcept { return v_.data; }
    /* Whether the result was written to the caller's buffer (not to session memory). */
    bool in_buffer() const noexcept { return v_.buffer && v_.data == v_.buffer; }
    /* Typed access; throws Error(AIS_E_DTYPE) when T is not the element type. */
    template <typename T> T *data() const {
        if (dtype_of<T>() != dtype()) {
            throw Error(AIS_E_DTYPE, std::string("data<>(): the buffer is ") +
                                         ais_dtype_name(dtype()) + ", not " +
                                         ais_dtype_name(dtype_of<T>()));
        }
        return static_cast<T *>(v_.data);
    }
    const ais_buffer_view &get() const noexcept { return v_; }
    ais_buffer_view &get() noexcept { return v_; }

  private:
    ais_buffer_view v_{};
};

/* The JSON of `aistack drift --json` for `report`, which it destroys (also on failure). */
inline std::string drift_report_json(ais_drift_report *report) {
    size_t need = 0;
    ais_status st = ais_drift_report_json(report, nullptr, 0, &need);
    std::string text(need, '\0');
    if (st == AIS_OK) st = ais_drift_report_json(report, &text[0], text.size(), &need);
    ais_drift_report_destroy(report);
    check(st);
    text.resize(need);
    return text;
}

/* Run metrics of the sessions created with it (ais_monitor.h); shareable (copies add a
 * reference). */
class Monitor {
  public:
    Monitor() { check(ais_monitor_create(&m_)); }
    explicit Monitor(const std::vector<double> &latency_buckets) : Monitor() {
        check(ais_monitor_set_latency_buckets(m_, latency_buckets.data(), latency_buckets.size()));
    }
    Monitor(const Monitor &o) : m_(ais_monitor_retain(o.m_)) {}
    Monitor &operator=(const Monitor &o) {
        if (this != &o) {
            ais_monitor_destroy(m_);
            m_ = ais_monitor_retain(o.m_);
        }
        return *this;
    }
    ~Monitor() { ais_monitor_destroy(m_); }

    /* The Prometheus text exposition (format 0.0.4). */
    std::string prometheus() const {
        for (;;) {
            size_t need = 0;
            check(ais_monitor_prometheus(m_, nullptr, 0, &need));
            std::string text(need + 1024, '\0');
            ais_status st = ais_monitor_prometheus(m_, &text[0], text.size(), &need);
            if (st == AIS_E_LIMIT) continue; /* grew past the margin meanwhile */
            check(st);
            text.resize(need);
            return text;
        }
    }
    /* A metric summed over the sessions of `model` (its "name" metadata; "" for all). */
    uint64_t metric(ais_metric metric, const std::string &model = "") const {
        uint64_t v = 0;
        check(ais_monitor_metric(m_, model.empty() ? nullptr : model.c_str(), metric, &v));
        return v;
    }
    /* Drift of the live windows (AIS_OPT_DRIFT_WINDOW) of the sessions of `model` ("": the only
     * model with a reference profile) against its reference: ais_monitor_drift as JSON. */
    std::string drift_json(const std::string &model = "") const {
        ais_drift_report *r = nullptr;
        check(ais_monitor_drift(m_, model.empty() ? nullptr : model.c_str(), &r));
        return drift_report_json(r);
    }
    ais_monitor *get() const noexcept { return m_; }

  private:
    ais_monitor *m_ = nullptr;
};

/* Typed settings for loading and sessions (move-only). */
class Options {
  public:
    Options() { check(ais_options_create(&o_)); }
    Options(Options &&o) noexcept : o_(std::exchange(o.o_, nullptr)) {}
    Options &operator=(Options &&o) noexcept {
        if (this != &o) {
            ais_options_destroy(o_);
            o_ = std::exchange(o.o_, nullptr);
        }
        return *this;
    }
    Options(const Options &) = delete;
    Options &operator=(const Options &) = delete;
    ~Options() { ais_options_destroy(o_); }

    Options &set(ais_option key, int64_t value) {
        check(ais_options_set_int(o_, key, value));
        return *this;
    }
    int64_t get(ais_option key) const {
        int64_t v = 0;
        check(ais_options_get_int(o_, key, &v));
        return v;
    }
    Options &threads(int64_t n) { return set(AIS_OPT_THREADS, n); }
    Options &backend(ais_backend b) { return set(AIS_OPT_BACKEND, b); }
    /* AIS_OPT_PROFILE: the session times each node (Session::profile). */
    Options &profile(bool on = true) { return set(AIS_OPT_PROFILE, on ? 1 : 0); }
    /* Sessions created with these options report to `m` (which must outlive the call). */
    Options &monitor(const Monitor &m) {
        check(ais_options_set_monitor(o_, m.get()));
        return *this;
    }
    const ais_options *get() const noexcept { return o_; }

  private:
    ais_options *o_ = nullptr;
};

/* Name, dtype and shape (-1 for a dynamic extent) of a model input or output. */
struct TensorInfo {
    std::string name;
    ais_dtype dtype;
    std::vector<int64_t> shape;
};

/* A record that broke a feature pipeline's schema: row (0 = the first record), field ("" when
 * the whole row is bad) and what was wrong. */
struct Problem {
    size_t row;
    std::string field, message;
};

/* AIS_E_SCHEMA from a pipeline or record run, with every problem. */
class SchemaError : public Error {
  public:
    SchemaError(const std::string &message, std::vector<Problem> problems)
        : Error(AIS_E_SCHEMA, message), problems_(std::move(problems)) {}
    const std::vector<Problem> &problems() const noexcept { return problems_; }

  private:
    std::vector<Problem> problems_;
};

/* Throws for a failed run (SchemaError with the report for AIS_E_SCHEMA); frees the report. */
inline void check_run(ais_status status, ais_pipeline_errors *report) {
    if (status == AIS_OK) {
        ais_pipeline_errors_destroy(report);
        return;
    }
    std::string message = ais_last_error();
    if (status != AIS_E_SCHEMA) {
        ais_pipeline_errors_destroy(report);
        throw Error(status, message);
    }
    std::vector<Problem> problems;
    for (size_t i = 0; i < ais_pipeline_errors_count(report); i++) {
        problems.push_back({ais_pipeline_errors_row(report, i),
                            ais_pipeline_errors_field(report, i),
                            ais_pipeline_errors_message(report, i)});
    }
    ais_pipeline_errors_destroy(report);
    throw SchemaError(message, std::move(problems));
}

/* A feature pipeline (docs/pipeline-spec.md): owned when built from a spec, or a view of a
 * model's own (Model::pipeline(), valid while that model lives). Move-only; immutable, so one
 * pipeline may run on many threads at once. */
/* Fields of an image input for run_records (docs/pipeline-spec.md, "Image inputs"): a file
 * path, the encoded JPEG/PNG bytes, or decoded u8 pixels [H, W] / [H, W, C]. Nothing is copied:
 * the name, path, bytes and tensor must outlive the run. */
inline ais_field image_path(const char *name, const char *path) noexcept {
    return ais_field{name, AIS_VALUE_STRING, 0.0, path};
}
inline ais_field image_bytes(const char *name, const void *data, size_t size) noexcept {
    return ais_field{name, AIS_VALUE_BYTES, static_cast<double>(size),
                     static_cast<const char *>(data)};
}
inline ais_field image_pixels(const char *name, const Tensor &pixels) {
    return ais_field{name, AIS_VALUE_PIXELS, 0.0,
                     reinterpret_cast<const char *>(static_cast<const void *>(pixels.get()))};
}

class Pipeline {
  public:
    Pipeline() noexcept = default;
    static Pipeline from_json(const std::string &spec) {
        ais_pipeline *p = nullptr;
        check(ais_pipeline_create_from_json(spec.data(), spec.size(), &p));
        return Pipeline(p, true);
    }
    /* A view of a pipeline owned elsewhere (may be null: an empty Pipeline). */
    static Pipeline view(const ais_pipeline *p) noexcept {
        return Pipeline(const_cast<ais_pipeline *>(p), false);
    }
    Pipeline(Pipeline &&o) noexcept
        : p_(std::exchange(o.p_, nullptr)), owned_(std::exchange(o.owned_, false)) {}
    Pipeline &operator=(Pipeline &&o) noexcept {
        if (this != &o) {
            reset();
            p_ = std::exchange(o.p_, nullptr);
            owned_ = std::exchange(o.owned_, false);
        }
        return *this;
    }
    Pipeline(const Pipeline &) = delete;
    Pipeline &operator=(const Pipeline &) = delete;
    ~Pipeline() { reset(); }

    explicit operator bool() const noexcept { return p_ != nullptr; }
    const ais_pipeline *get() const noexcept { return p_; }
    size_t output_width() const noexcept { return ais_pipeline_output_width(p_); }
    /* AIS_DTYPE_F32, or AIS_DTYPE_F64 for a pipeline made by with_output_dtype. */
    ais_dtype output_dtype() const noexcept { return ais_pipeline_output_dtype(p_); }
    /* A new pipeline from the same spec whose runs give `dtype` (AIS_DTYPE_F32 or AIS_DTYPE_F64:
     * the doubles every feature is computed in, for models that compute in double). */
    Pipeline with_output_dtype(ais_dtype dtype) const {
        ais_pipeline *p = nullptr;
        check(ais_pipeline_with_output_dtype(p_, dtype, &p));
        return Pipeline(p, true);
    }
    /* Input names and kinds in spec order. */
    std::vector<std::pair<std::string, ais_feature_kind>> inputs() const {
        std::vector<std::pair<std::string, ais_feature_kind>> res;
        for (size_t i = 0; i < ais_pipeline_input_count(p_); i++) {
            const char *name = nullptr;
            ais_feature_kind kind = AIS_FEATURE_NUMERIC;
            check(ais_pipeline_input_info(p_, i, &name, &kind));
            res.emplace_back(name, kind);
        }
        return res;
    }
    /* The spec text it was compiled from. */
    std::string spec() const {
        const char *json = nullptr;
        size_t len = 0;
        check(ais_pipeline_spec_json(p_, &json, &len));
        return std::string(json, len);
    }
    /* Rows as records, JSON lines or CSV to [rows, output_width] of output_dtype(). Schema
     * problems throw SchemaError. */
    Tensor run_records(const std::vector<std::vector<ais_field>> &rows) const {
        std::vector<const ais_field *> ptrs;
        std::vector<size_t> counts;
        for (const auto &r : rows) {
            ptrs.push_back(r.data());
            counts.push_back(r.size());
        }
        ais_tensor *out = nullptr;
        ais_pipeline_errors *e = nullptr;
        ais_status st =
            ais_pipeline_run_records(p_, ptrs.data(), counts.data(), rows.size(), &out, &e);
        check_run(st, e); /* not one expression: e must be read after the call sets it */
        return Tensor(out);
    }
    Tensor run_json_rows(const std::string &jsonl) const {
        ais_tensor *out = nullptr;
        ais_pipeline_errors *e = nullptr;
        ais_status st = ais_pipeline_run_json_rows(p_, jsonl.data(), jsonl.size(), &out, &e);
        check_run(st, e);
        return Tensor(out);
    }
    Tensor run_csv(const std::string &csv) const {
        ais_tensor *out = nullptr;
        ais_pipeline_errors *e = nullptr;
        ais_status st = ais_pipeline_run_csv(p_, csv.data(), csv.size(), &out, &e);
        check_run(st, e);
        return Tensor(out);
    }

  private:
    Pipeline(ais_pipeline *p, bool owned) noexcept : p_(p), owned_(owned) {}
    void reset() noexcept {
        if (owned_) {
            ais_pipeline_destroy(p_);
        }
        p_ = nullptr;
        owned_ = false;
    }
    ais_pipeline *p_ = nullptr;
    bool owned_ = false;
};

class Model;

/* The state to run one model; one thread at a time (move-only). */
class Session {
  public:
    Session(Session &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Session &operator=(Session &&o) noexcept {
        if (this != &o) {
            ais_session_destroy(s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;
    ~Session() { ais_session_destroy(s_); }

    /*
     * Runs with inputs in the model's order (or named by `input_names`) and returns the outputs
     * named by `output_names` (default: all, in order) as new tensors.
     */
    std::vector<Tensor> run(const std::vector<const Tensor *> &inputs,
                            const std::vector<std::string> &input_names = {},
                            const std::vector<std::string> &output_names = {}) {
        std::vector<Tensor> outputs(output_names.empty() ? n_outputs_ : output_names.size());
        run_into(inputs, outputs, input_names, output_names);
        return outputs;
    }
    std::vector<Tensor> run(std::initializer_list<std::reference_wrapper<const Tensor>> inputs,
                            const std::vector<std::string> &input_names = {},
                            const std::vector<std::string> &output_names = {}) {
        std::vector<const Tensor *> ptrs;
        for (const Tensor &t : inputs) {
            ptrs.push_back(&t);
        }
        return run(ptrs, input_names, output_names);
    }
    /* As run(), writing into `outputs`: empty Tensors receive new ones, others are filled in
     * place (they must have the output's dtype and shape). */
    void run_into(const std::vector<const Tensor *> &inputs, std::vector<Tensor> &outputs,
                  const std::vector<std::string> &input_names = {},
                  const std::vector<std::string> &output_names = {}) {
        if (!input_names.empty() && input_names.size() != inputs.size()) {
            throw Error(AIS_E_INVALID_ARGUMENT, "run: " + std::to_string(inputs.size()) +
                                                    " inputs but " +
                                                    std::to_string(input_names.size()) + " names");
        }
        if (!output_names.empty() && output_names.size() != outputs.size()) {
            throw Error(AIS_E_INVALID_ARGUMENT, "run: " + std::to_string(outputs.size()) +
                                                    " output slots but " +
                                                    std::to_string(output_names.size()) + " names");
        }
        std::vector<const ais_tensor *> in;
        for (const Tensor *t : inputs) {
            in.push_back(t ? t->get() : nullptr);
        }
        std::vector<const char *> in_names, out_names;
        for (const std::string &n : input_names) {
            in_names.push_back(n.c_str());
        }
        for (const std::string &n : output_names) {
            out_names.push_back(n.c_str());
        }
        std::vector<ais_tensor *> slots;
        for (Tensor &t : outputs) {
            slots.push_back(t ? t.get() : nullptr);
        }
        check(ais_session_run(s_, in_names.empty() ? nullptr : in_names.data(), in.data(),
                              in.size(), out_names.empty() ? nullptr : out_names.data(),
                              slots.data(), slots.size()));
        for (size_t i = 0; i < outputs.size(); i++) {
            if (!outputs[i]) {
                outputs[i] = Tensor(slots[i]);
            }
        }
    }
    /*
     * Runs on plain buffers in one library call (ais_session_run_into), for callers that keep
     * their data in arrays of their own: `inputs` are exactly the model's inputs, in its order
     * (BufferView::input); `outputs` receive the outputs named by `output_indices` (indices of
     * Model::outputs(), default: the first outputs.size() in order). Each output's buffer, when
     * given, receives the result if it fits; otherwise the result is in session memory, valid
     * until this session's next run. A run with input shapes seen before allocates nothing in
     * the library.
     */
    void run_buffers(const std::vector<BufferView> &inputs, std::vector<BufferView> &outputs,
                     const std::vector<size_t> &output_indices = {}) {
        if (!output_indices.empty() && output_indices.size() != outputs.size()) {
            throw Error(AIS_E_INVALID_ARGUMENT,
                        "run_buffers: " + std::to_string(outputs.size()) + " outputs but " +
                            std::to_string(output_indices.size()) + " indices");
        }
        std::vector<ais_buffer_view> in, out;
        for (const BufferView &b : inputs) {
            in.push_back(b.get());
        }
        for (const BufferView &b : outputs) {
            out.push_back(b.get());
        }
        ais_status st = ais_session_run_into(
            s_, in.data(), in.size(), output_indices.empty() ? nullptr : output_indices.data(),
            out.data(), out.size());
        for (size_t i = 0; i < outputs.size(); i++) {
            outputs[i].get() = out[i]; // also on failure: the library cleared them
        }
        check(st);
    }
    /*
     * Raw records through the model's feature pipeline and the model in one call (records,
     * JSON lines, CSV with a header row, or columns); returns the outputs named by `output_names` (default
     * all). Schema problems throw SchemaError; a model without a pipeline throws Error
     * (AIS_E_INVALID_ARGUMENT).
     */
    std::vector<Tensor> run_records(const std::vector<std::vector<ais_field>> &rows,
                                    const std::vector<std::string> &output_names = {}) {
        std::vector<const ais_field *> ptrs;
        std::vector<size_t> counts;
        for (const auto &r : rows) {
            ptrs.push_back(r.data());
            counts.push_back(r.size());
        }
        return run_source(output_names, [&](const char *const *names, ais_tensor **slots,
                                            size_t n, ais_pipeline_errors **e) {
            return ais_session_run_records(s_, ptrs.data(), counts.data(), rows.size(), names,
                                           slots, n, e);
        });
    }
    std::vector<Tensor> run_json_rows(const std::string &jsonl,
                                      const std::vector<std::string> &output_names = {}) {
        return run_source(output_names, [&](const char *const *names, ais_tensor **slots,
                                            size_t n, ais_pipeline_errors **e) {
            return ais_session_run_json_rows(s_, jsonl.data(), jsonl.size(), names, slots, n, e);
        });
    }
    std::vector<Tensor> run_csv(const std::string &csv,
                                const std::vector<std::string> &output_names = {}) {
        return run_source(output_names, [&](const char *const *names, ais_tensor **slots,
                                            size_t n, ais_pipeline_errors **e) {
            return ais_session_run_csv(s_, csv.data(), csv.size(), names, slots, n, e);
        });
    }
    /* Columns as (input name, tensor): f32/f64/i32/i64 for numeric inputs, strings for
     * categorical ones, each [rows] or [rows, 1]; names the pipeline lacks are ignored. */
    std::vector<Tensor>
    run_columns(const std::vector<std::pair<std::string, const Tensor *>> &columns,
                const std::vector<std::string> &output_names = {}) {
        std::vector<const char *> names;
        std::vector<const ais_tensor *> cols;
        for (const auto &c : columns) {
            names.push_back(c.first.c_str());
            cols.push_back(c.second ? c.second->get() : nullptr);
        }
        return run_source(output_names, [&](const char *const *onames, ais_tensor **slots,
                                            size_t n, ais_pipeline_errors **e) {
            return ais_session_run_columns(s_, names.data(), cols.data(), cols.size(), onames,
                                           slots, n, e);
        });
    }
    /* One node's counts in a profile (ais_session_profile_node). */
    struct NodeProfile {
        std::string name, op_type;
        ais_backend backend;
        uint64_t calls, total_ns;
    };
    /* A session's profile (AIS_OPT_PROFILE): its runs, their wall time, and every node's counts
     * in execution order. Throws (AIS_E_INVALID_ARGUMENT) when the session does not profile. */
    struct Profile {
        uint64_t runs, total_ns;
        std::vector<NodeProfile> nodes;
    };
    Profile profile() const {
        Profile p{0, 0, {}};
        check(ais_session_profile(s_, &p.runs, &p.total_ns));
        size_t n = ais_session_node_count(s_);
        for (size_t i = 0; i < n; i++) {
            const char *name = nullptr, *op = nullptr;
            NodeProfile np{"", "", AIS_BACKEND_CPU, 0, 0};
            check(
                ais_session_profile_node(s_, i, &name, &op, &np.backend, &np.calls, &np.total_ns));
            np.name = name ? name : "";
            np.op_type = op ? op : "";
            p.nodes.push_back(std::move(np));
        }
        return p;
    }
    /* Sets the profile's counts back to zero. */
    void profile_reset() { check(ais_session_profile_reset(s_)); }
    ais_session *get() const noexcept { return s_; }
    /* One run metric of this session (AIS_E_NOT_FOUND with AIS_OPT_METRICS 0). */
    uint64_t metric(ais_metric metric) const {
        uint64_t v = 0;
        check(ais_session_metric(s_, metric, &v));
        return v;
    }
    /* Drift of this session's live window against the model's reference profile
     * (ais_session_drift) as JSON; AIS_E_NOT_FOUND when it keeps no window. */
    std::string drift_json() const {
        ais_drift_report *r = nullptr;
        check(ais_session_drift(s_, &r));
        return drift_report_json(r);
    }

  private:
    template <typename F>
    std::vector<Tensor> run_source(const std::vector<std::string> &output_names, F call) {
        std::vector<const char *> names;
        for (const std::string &n : output_names) {
            names.push_back(n.c_str());
        }
        std::vector<ais_tensor *> slots(output_names.empty() ? n_outputs_ : output_names.size(),
                                        nullptr);
        ais_pipeline_errors *e = nullptr;
        ais_status st = call(names.empty() ? nullptr : names.data(), slots.data(), slots.size(), &e);
        check_run(st, e);
        std::vector<Tensor> outputs;
        for (ais_tensor *t : slots) {
            outputs.emplace_back(t);
        }
        return outputs;
    }
    friend class Model;
    Session(ais_session *s, size_t n_outputs) : s_(s), n_outputs_(n_outputs) {}
    ais_session *s_ = nullptr;
    size_t n_outputs_ = 0;
};

/* A loaded model: immutable, shareable between threads (move-only; share() adds a reference). */
class Model {
  public:
    explicit Model(const std::string &path, const Options *options = nullptr) {
        check(ais_model_load(path.c_str(), options ? options->get() : nullptr, &m_));
    }
    /* From memory: the bytes must stay valid and unchanged for the model's lifetime. */
    static Model from_memory(const void *data, size_t size, const Options *options = nullptr) {
        ais_model *m = nullptr;
        check(ais_model_load_memory(data, size, options ? options->get() : nullptr, &m));
        return Model(m);
    }
    Model(Model &&o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    Model &operator=(Model &&o) noexcept {
        if (this != &o) {
            ais_model_destroy(m_);
            m_ = std::exchange(o.m_, nullptr);
        }
        return *this;
    }
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;
    ~Model() { ais_model_destroy(m_); }

    /* Another owner of the same model (a reference, not a copy). */
    Model share() const { return Model(ais_model_retain(m_)); }

    Session session(const Options *options = nullptr) const {
        ais_session *s = nullptr;
        check(ais_session_create(m_, options ? options->get() : nullptr, &s));
        return Session(s, ais_model_output_count(m_));
    }

    std::vector<TensorInfo> inputs() const { return infos(true); }
    std::vector<TensorInfo> outputs() const { return infos(false); }
    /* The metadata value for `key`, or "" when absent. */
    std::string metadata(const std::string &key) const {
        const char *v = ais_model_metadata(m_, key.c_str());
        return v ? v : "";
    }
    std::vector<std::pair<std::string, std::string>> metadata() const {
        std::vector<std::pair<std::string, std::string>> md;
        for (size_t i = 0; i < ais_model_metadata_count(m_); i++) {
            const char *k = nullptr, *v = nullptr;
            check(ais_model_metadata_at(m_, i, &k, &v));
            md.emplace_back(k, v);
        }
        return md;
    }
    void save(const std::string &path, const Options *options = nullptr) const {
        check(ais_model_save(m_, path.c_str(), options ? options->get() : nullptr));
    }
    /* Writes .ais with `pipeline` as the model's feature pipeline (see
     * ais_model_save_with_pipeline). */
    void save(const std::string &path, const Pipeline &pipeline,
              const Options *options = nullptr) const {
        check(ais_model_save_with_pipeline(m_, pipeline.get(), path.c_str(),
                                           options ? options->get() : nullptr));
    }
    /* The model's own feature pipeline, a view valid while this model lives; empty (false)
     * when it has none. */
    Pipeline pipeline() const noexcept { return Pipeline::view(ais_model_pipeline(m_)); }
    ais_model *get() const noexcept { return m_; }

  private:
    explicit Model(ais_model *m) noexcept : m_(m) {}
    std::vector<TensorInfo> infos(bool in) const {
        std::vector<TensorInfo> res;
        size_t n = in ? ais_model_input_count(m_) : ais_model_output_count(m_);
        for (size_t i = 0; i < n; i++) {
            const char *name = nullptr;
            ais_dtype dt = AIS_DTYPE_UNDEFINED;
            size_t nd = 0;
            const int64_t *dims = nullptr;
            check(in ? ais_model_input_info(m_, i, &name, &dt, &nd, &dims)
                     : ais_model_output_info(m_, i, &name, &dt, &nd, &dims));
            res.push_back({name, dt, std::vector<int64_t>(dims, dims + nd)});
        }
        return res;
    }
    ais_model *m_ = nullptr;
};

/*
 * A transformer and its tokenizer (tokenizer.json or vocab.txt) into one .ais file that takes
 * raw text ({"text": "..."} records) and gives "sentence_embedding" [rows, hidden]
 * (ais_text_convert). Options: AIS_OPT_TEXT_MAX_LENGTH, AIS_OPT_TEXT_POOLING
 * (AIS_TEXT_POOLING_MEAN or _CLS), AIS_OPT_TEXT_NORMALIZE, and the save options.
 */
inline void text_convert(const std::string &model_path, const std::string &tokenizer_path,
                         const std::string &out_path, const Options *options = nullptr) {
    check(ais_text_convert(model_path.c_str(), tokenizer_path.c_str(), out_path.c_str(),
                           options ? options->get() : nullptr));
}

/* One ONNX operator, eagerly. Attributes are set with Attrs. */
class Attrs {
  public:
    Attrs() { check(ais_attrs_create(&a_)); }
    Attrs(Attrs &&o) noexcept : a_(std::exchange(o.a_, nullptr)) {}
    Attrs(const Attrs &) = delete;
    Attrs &operator=(const Attrs &) = delete;
    Attrs &operator=(Attrs &&o) noexcept {
        if (this != &o) {
            ais_attrs_destroy(a_);
            a_ = std::exchange(o.a_, nullptr);
        }
        return *this;
    }
    ~Attrs() { ais_attrs_destroy(a_); }
    Attrs &set(const std::string &name, int64_t v) {
        check(ais_attrs_set_int(a_, name.c_str(), v));
        return *this;
    }
    Attrs &set(const std::string &name, int v) { return set(name, static_cast<int64_t>(v)); }
    Attrs &set(const std::string &name, float v) {
        check(ais_attrs_set_float(a_, name.c_str(), v));
        return *this;
    }
    Attrs &set(const std::string &name, double v) { return set(name, static_cast<float>(v)); }
    Attrs &set(const std::string &name, const char *v) { return set(name, std::string(v)); }
    Attrs &set(const std::string &name, const std::string &v) {
        check(ais_attrs_set_string(a_, name.c_str(), v.c_str()));
        return *this;
    }
    Attrs &set(const std::string &name, const std::vector<int64_t> &v) {
        check(ais_attrs_set_ints(a_, name.c_str(), v.data(), v.size()));
        return *this;
    }
    Attrs &set(const std::string &name, const std::vector<float> &v) {
        check(ais_attrs_set_floats(a_, name.c_str(), v.data(), v.size()));
        return *this;
    }
    const ais_attrs *get() const noexcept { return a_; }

  private:
    ais_attrs *a_ = nullptr;
};

/* Runs `op_type` (default domain; opset 0 = newest) and returns its n_outputs outputs. */
inline std::vector<Tensor> run_op(const std::string &op_type,
                                  const std::vector<const Tensor *> &inputs,
                                  const Attrs *attrs = nullptr, size_t n_outputs = 1,
                                  int64_t opset = 0) {
    std::vector<const ais_tensor *> in;
    for (const Tensor *t : inputs) {
        in.push_back(t ? t->get() : nullptr);
    }
    std::vector<ais_tensor *> slots(n_outputs, nullptr);
    check(ais_op_run_opset("", op_type.c_str(), opset > 0 ? opset : ais_op_max_opset(),
                           attrs ? attrs->get() : nullptr, in.data(), in.size(), slots.data(),
                           slots.size()));
    std::vector<Tensor> out;
    for (ais_tensor *t : slots) {
        out.emplace_back(t);
    }
    return out;
}

/* A feature profile (ais_monitor.h): a reference built from training data, or a window of live
 * data compared with one (move-only). */
class Profile {
  public:
    explicit Profile(uint32_t sample_size = 0, uint32_t top_k = 0, uint64_t seed = 0) {
        check(ais_profile_create(sample_size, top_k, seed, &p_));
    }
    static Profile from_bytes(const void *data, size_t size) {
        ais_profile *p = nullptr;
        check(ais_profile_deserialize(data, size, &p));
        return Profile(p);
    }
    Profile(Profile &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Profile &operator=(Profile &&o) noexcept {
        if (this != &o) {
            ais_profile_destroy(p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    Profile(const Profile &) = delete;
    Profile &operator=(const Profile &) = delete;
    ~Profile() { ais_profile_destroy(p_); }

    size_t add_feature(const std::string &name, ais_feature_kind kind) {
        size_t i = 0;
        check(ais_profile_add_feature(p_, name.c_str(), kind, &i));
        return i;
    }
    void observe(size_t feature, const std::vector<double> &values) {
        check(ais_profile_observe_numbers(p_, feature, values.data(), values.size()));
    }
    void observe(size_t feature, const std::vector<const char *> &values) {
        check(ais_profile_observe_strings(p_, feature, values.data(), values.size()));
    }
    std::vector<uint8_t> to_bytes() const {
        size_t n = 0;
        check(ais_profile_serialize(p_, nullptr, 0, &n));
        std::vector<uint8_t> b(n);
        check(ais_profile_serialize(p_, b.data(), b.size(), &n));
        return b;
    }
    /* This reference against `current`: the JSON of `aistack drift --json`. */
    std::string drift_json(const Profile &current) const { return drift_json(p_, current.p_); }
    static std::string drift_json(const ais_profile *reference, const ais_profile *current) {
        ais_drift_report *r = nullptr;
        check(ais_profile_drift(reference, current, &r));
        return drift_report_json(r);
    }
    const ais_profile *get() const noexcept { return p_; }

  private:
    explicit Profile(ais_profile *p) : p_(p) {}
    ais_profile *p_ = nullptr;
};

} // namespace aistack

#endif /* AISTACK_HPP */
