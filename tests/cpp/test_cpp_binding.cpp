// The header-only C++ wrapper (bindings/cpp/aistack.hpp): RAII, moves, exceptions carrying the
// status and message, sessions on shared models from several threads, eager operators against
// naive loops. Run from the source root (models/ is read relative to it).
#include <aistack.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

static int failures = 0;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

// Expects `expr` to throw aistack::Error with `status` and a message containing `needle`.
#define CHECK_THROWS(expr, status_, needle)                                                        \
    do {                                                                                           \
        bool thrown_ = false;                                                                      \
        try {                                                                                      \
            (void)(expr);                                                                          \
        } catch (const aistack::Error &e_) {                                                       \
            thrown_ = true;                                                                        \
            if (e_.status() != (status_) || e_.message().find(needle) == std::string::npos) {      \
                std::fprintf(stderr, "%s:%d: %s threw %s (want %s containing '%s')\n", __FILE__,   \
                             __LINE__, #expr, e_.what(), ais_status_name(status_), needle);        \
                failures++;                                                                        \
            }                                                                                      \
        }                                                                                          \
        if (!thrown_) {                                                                            \
            std::fprintf(stderr, "%s:%d: %s did not throw\n", __FILE__, __LINE__, #expr);          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static const char *MODEL = "models/digits_mlp.onnx";

static void test_model_info() {
    aistack::Model m(MODEL);
    auto ins = m.inputs();
    auto outs = m.outputs();
    CHECK(ins.size() == 1 && ins[0].name == "pixels" && ins[0].dtype == AIS_DTYPE_F32);
    CHECK(ins[0].shape == (std::vector<int64_t>{-1, 64}));
    CHECK(outs.size() == 2 && outs[1].name == "digit" && outs[1].dtype == AIS_DTYPE_I64);
    CHECK(m.metadata("format") == "onnx");
    CHECK(m.metadata("no-such-key").empty());
    CHECK(!m.metadata().empty());
    CHECK(!aistack::version().empty());
}

static void test_labelled_digits() {
    aistack::Model m(MODEL);
    aistack::Session s = m.session();
    const char *files[] = {"models/digits/test0_label2.npy", "models/digits/test1_label8.npy",
                           "models/digits/test2_label2.npy"};
    for (const char *f : files) {
        aistack::Tensor x = aistack::Tensor::load(f);
        std::vector<aistack::Tensor> out = s.run({x});
        CHECK(out.size() == 2);
        int label = std::strstr(f, "label")[5] - '0';
        CHECK(out[1].data<int64_t>()[0] == label);
        float sum = 0;
        for (float p : out[0].to_vector<float>()) {
            sum += p;
        }
        CHECK(std::fabs(sum - 1.0f) < 1e-4f);
    }
}

static void test_batch_accuracy_and_run_into() {
    aistack::Model m(MODEL);
    aistack::Options o;
    o.threads(2);
    CHECK(o.get(AIS_OPT_THREADS) == 2);
    aistack::Session s = m.session(&o);
    aistack::Tensor x = aistack::Tensor::load("models/digits/test_batch.npy");
    aistack::Tensor labels = aistack::Tensor::load("models/digits/test_batch_labels.npy");
    std::vector<aistack::Tensor> out = s.run({x});
    size_t n = labels.size(), right = 0;
    for (size_t i = 0; i < n; i++) {
        right += out[1].data<int64_t>()[i] == labels.data<int64_t>()[i];
    }
    CHECK(n == 360 && right > n * 9 / 10);

    // Preallocated outputs are filled in place; empty slots receive new tensors.
    std::vector<aistack::Tensor> into;
    into.push_back(aistack::Tensor::zeros<float>({360, 10}));
    into.emplace_back();
    float *where = into[0].data<float>();
    s.run_into({&x}, into);
    CHECK(into[0].data<float>() == where);
    CHECK(std::memcmp(where, out[0].raw_data(), out[0].nbytes()) == 0);
    CHECK(into[1] && into[1].to_vector<int64_t>() == out[1].to_vector<int64_t>());

    // Named inputs and a subset of outputs.
    auto only = s.run({&x}, {"pixels"}, {"digit"});
    CHECK(only.size() == 1 && only[0].to_vector<int64_t>() == out[1].to_vector<int64_t>());
}

// Session::run_buffers (ais_session_run_into): the same results as run(), written into the
// caller's buffers where given and big enough, else into session memory.
static void test_run_buffers() {
    aistack::Model m(MODEL);
    aistack::Session s = m.session();
    aistack::Tensor x = aistack::Tensor::load("models/digits/test_batch.npy");
    std::vector<aistack::Tensor> want = s.run({x});
    const std::vector<int64_t> shape = x.shape();
    std::vector<aistack::BufferView> in = {aistack::BufferView::input(x.data<float>(), shape)};

    std::vector<float> probs(want[0].size(), -1.0f);
    std::vector<aistack::BufferView> out = {aistack::BufferView::output(probs.data(), probs.size()),
                                            aistack::BufferView::output()};
    s.run_buffers(in, out);
    CHECK(out[0].in_buffer() && out[0].data<float>() == probs.data());
    CHECK(out[0].shape() == want[0].shape() && out[0].nbytes() == want[0].nbytes());
    CHECK(std::memcmp(probs.data(), want[0].raw_data(), want[0].nbytes()) == 0);
    CHECK(!out[1].in_buffer() && out[1].dtype() == AIS_DTYPE_I64);
    CHECK(out[1].shape() == want[1].shape());
    CHECK(std::memcmp(out[1].raw_data(), want[1].raw_data(), want[1].nbytes()) == 0);

    // One output by index, into a buffer too small for it: session memory, same values.
    std::vector<int64_t> small(3, -1);
    std::vector<aistack::BufferView> digit = {aistack::BufferView::output(small.data(), 3)};
    s.run_buffers(in, digit, {1});
    CHECK(!digit[0].in_buffer() && small == std::vector<int64_t>(3, -1));
    CHECK(digit[0].nbytes() == want[1].nbytes() &&
          std::memcmp(digit[0].data<int64_t>(), want[1].raw_data(), want[1].nbytes()) == 0);
    CHECK_THROWS(digit[0].data<float>(), AIS_E_DTYPE, "i64");

    // Errors throw with the library's message and leave the output views empty.
    std::vector<aistack::BufferView> none;
    CHECK_THROWS(s.run_buffers(none, out), AIS_E_INVALID_ARGUMENT, "0 inputs given");
    CHECK(out[0].raw_data() == nullptr && out[0].dtype() == AIS_DTYPE_UNDEFINED);
    std::vector<int64_t> ints(shape[0] * shape[1]);
    std::vector<aistack::BufferView> bad = {aistack::BufferView::input(ints.data(), shape)};
    CHECK_THROWS(s.run_buffers(bad, out), AIS_E_DTYPE, "pixels");
    CHECK_THROWS(s.run_buffers(in, out, {1}), AIS_E_INVALID_ARGUMENT, "2 outputs but 1 indices");
    CHECK_THROWS(aistack::BufferView::input(probs.data(), std::vector<int64_t>(9, 1)), AIS_E_LIMIT,
                 "rank 9");
}

static void test_errors() {
    CHECK_THROWS(aistack::Model("no/such/model.onnx"), AIS_E_IO, "no/such/model.onnx");
    const char junk[] = "definitely not a model";
    CHECK_THROWS(aistack::Model::from_memory(junk, sizeof junk), AIS_E_FORMAT, "");
    aistack::Options o;
    CHECK_THROWS(o.threads(-1), AIS_E_INVALID_ARGUMENT, "THREADS");

    aistack::Model m(MODEL);
    aistack::Session s = m.session();
    std::vector<double> d(64, 1.0);
    aistack::Tensor wrong_dtype = aistack::Tensor::wrap(d.data(), {1, 64});
    CHECK_THROWS(s.run({wrong_dtype}), AIS_E_DTYPE, "pixels");
    std::vector<float> f(60, 1.0f);
    aistack::Tensor wrong_shape = aistack::Tensor::wrap(f.data(), {1, 60});
    CHECK_THROWS(s.run({wrong_shape}), AIS_E_SHAPE, "pixels");
    CHECK_THROWS(s.run({&wrong_shape}, {"nope"}), AIS_E_NOT_FOUND, "nope");
    CHECK_THROWS(s.run({&wrong_shape}, {"a", "b"}), AIS_E_INVALID_ARGUMENT, "names");
    CHECK_THROWS(wrong_shape.data<int32_t>(), AIS_E_DTYPE, "f32");
    CHECK_THROWS(aistack::Tensor::from<float>({1, 2, 3}, {2, 2}), AIS_E_SHAPE, "3 values");
    CHECK_THROWS(aistack::Tensor::load("no/such.npy"), AIS_E_IO, "no/such.npy");
    aistack::Tensor empty;
    CHECK_THROWS(empty.shape(), AIS_E_INVALID_ARGUMENT, "empty");

    // The session still runs after failures.
    aistack::Tensor x = aistack::Tensor::load("models/digits/test0_label2.npy");
    CHECK(s.run({x})[1].data<int64_t>()[0] == 2);

    // The exception is a std::runtime_error whose what() names the status.
    try {
        aistack::Model bad("no/such/model.onnx");
        CHECK(false);
    } catch (const std::runtime_error &e) {
        CHECK(std::strstr(e.what(), "AIS_E_IO") != nullptr);
    }
}

static void test_ownership() {
    aistack::Tensor a = aistack::Tensor::from<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    aistack::Tensor b = std::move(a);
    CHECK(!a && b && b.size() == 6);
    aistack::Tensor v = b.reshape({3, 2});
    b = aistack::Tensor(); // the view keeps the data alive
    CHECK(v.shape() == (std::vector<int64_t>{3, 2}) && v.data<float>()[5] == 6.0f);
    aistack::Tensor c = v.copy();
    c.data<float>()[0] = 42.0f;
    CHECK(v.data<float>()[0] == 1.0f);
    ais_tensor *raw = c.release();
    CHECK(!c && raw != nullptr);
    ais_tensor_destroy(raw);

    std::vector<float> mem(64, 0.0f);
    aistack::Tensor w = aistack::Tensor::wrap(mem.data(), {1, 64});
    CHECK(w.raw_data() == mem.data()); // no copy

    // A session outlives the Model object that made it; share() adds an owner.
    aistack::Session s = [] {
        aistack::Model m(MODEL);
        aistack::Model other = m.share();
        aistack::Model moved = std::move(m);
        CHECK(moved.get() == other.get());
        return other.session();
    }();
    aistack::Tensor x = aistack::Tensor::load("models/digits/test1_label8.npy");
    CHECK(s.run({x})[1].data<int64_t>()[0] == 8);
    aistack::Session s2 = std::move(s);
    CHECK(s.get() == nullptr && s2.get() != nullptr);
}

static void test_run_op() {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    const int M = 5, K = 7, N = 3;
    std::vector<float> a(M * K), b(K * N);
    for (float &v : a)
        v = nd(rng);
    for (float &v : b)
        v = nd(rng);
    aistack::Tensor ta = aistack::Tensor::from(a, {M, K});
    aistack::Tensor tb = aistack::Tensor::from(b, {K, N});
    auto y = aistack::run_op("MatMul", {&ta, &tb});
    CHECK(y.size() == 1 && y[0].shape() == (std::vector<int64_t>{M, N}));
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float want = 0;
            for (int k = 0; k < K; k++) {
                want += a[i * K + k] * b[k * N + j];
            }
            CHECK(std::fabs(y[0].data<float>()[i * N + j] - want) < 1e-4f);
        }
    }
    aistack::Attrs attrs;
    attrs.set("perm", std::vector<int64_t>{1, 0});
    auto t = aistack::run_op("Transpose", {&ta}, &attrs);
    CHECK(t[0].shape() == (std::vector<int64_t>{K, M}));
    CHECK(t[0].data<float>()[1 * M + 2] == a[2 * K + 1]);
    aistack::Attrs gemm;
    gemm.set("alpha", 0.5).set("transA", 1);
    aistack::Tensor ta_t = std::move(t[0]);
    auto g = aistack::run_op("Gemm", {&ta_t, &tb}, &gemm);
    CHECK(std::fabs(g[0].data<float>()[0] - 0.5f * y[0].data<float>()[0]) < 1e-4f);
    CHECK_THROWS(aistack::run_op("MatMul", {&ta, &ta}), AIS_E_SHAPE, "MatMul");
    CHECK_THROWS(aistack::run_op("NoSuchOp", {&ta}), AIS_E_UNSUPPORTED, "NoSuchOp");
}

static void test_threads() {
    aistack::Model m(MODEL);
    aistack::Tensor x = aistack::Tensor::load("models/digits/test_batch.npy");
    std::vector<float> want = m.session().run({x})[0].to_vector<float>();
    std::vector<std::vector<float>> got(4);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++) {
        threads.emplace_back([&, i] {
            try {
                aistack::Session s = m.session();
                for (int r = 0; r < 10; r++) {
                    got[i] = s.run({x})[0].to_vector<float>();
                }
            } catch (const aistack::Error &e) {
                std::fprintf(stderr, "thread %d: %s\n", i, e.what());
            }
        });
    }
    for (auto &t : threads) {
        t.join();
    }
    for (auto &g : got) {
        CHECK(g == want);
    }
}

// One Session misused by four threads at once: every run either gives the right result or
// throws Error with AIS_E_BUSY; none returns a wrong one.
static void test_shared_session_busy() {
    aistack::Model m(MODEL);
    aistack::Tensor x = aistack::Tensor::load("models/digits/test_batch.npy");
    aistack::Session s = m.session();
    std::vector<float> want = s.run({x})[0].to_vector<float>();
    std::vector<int> ok(4, 0), busy(4, 0), bad(4, 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++) {
        threads.emplace_back([&, i] {
            for (int r = 0; r < 50; r++) {
                try {
                    if (s.run({x})[0].to_vector<float>() == want) {
                        ok[i]++;
                    } else {
                        bad[i]++;
                    }
                } catch (const aistack::Error &e) {
                    if (e.status() == AIS_E_BUSY) {
                        busy[i]++;
                        std::this_thread::yield();
                    } else {
                        bad[i]++;
                    }
                }
            }
        });
    }
    for (auto &t : threads) {
        t.join();
    }
    int total_ok = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(bad[i] == 0 && ok[i] + busy[i] == 50);
        total_ok += ok[i];
    }
    CHECK(total_ok > 0);
}

// A model saved with a feature pipeline runs CSV, JSON lines and records in one call, as the
// pipeline's output through the plain session would.
static void test_pipeline() {
    // 64 features from one numeric input: v scaled by k/64 for feature k.
    std::string spec = "{\"version\":1,\"inputs\":[{\"name\":\"v\",\"type\":\"numeric\"},"
                       "{\"name\":\"c\",\"type\":\"categorical\",\"missing\":\"allow\"}],"
                       "\"features\":[";
    for (int k = 0; k < 64; k++) {
        spec += std::string(k ? "," : "") + "{\"input\":\"v\",\"steps\":[{\"op\":\"scale\","
                "\"kind\":\"standard\",\"mean\":0,\"scale\":" + std::to_string(64.0 / (k + 1)) +
                "}]}";
    }
    spec += "]}";
    aistack::Pipeline p = aistack::Pipeline::from_json(spec);
    CHECK(p.output_width() == 64 && p.inputs().size() == 2 && p.inputs()[1].first == "c");
    CHECK(p.spec() == spec);
    const std::string csv = "c,v\nx,3\n,5.5\n";
    aistack::Tensor feats = p.run_csv(csv);
    CHECK(feats.shape() == (std::vector<int64_t>{2, 64}));
    CHECK(std::fabs(feats.data<float>()[64 + 63] - 5.5f) < 1e-6f);
    // The float64 twin gives the doubles the float32 output is rounded from.
    aistack::Pipeline p64 = p.with_output_dtype(AIS_DTYPE_F64);
    CHECK(p.output_dtype() == AIS_DTYPE_F32 && p64.output_dtype() == AIS_DTYPE_F64);
    aistack::Tensor feats64 = p64.run_csv(csv);
    CHECK(feats64.dtype() == AIS_DTYPE_F64 && feats64.shape() == feats.shape());
    for (size_t i = 0; i < 2 * 64; i++)
        CHECK((float)feats64.data<double>()[i] == feats.data<float>()[i]);
    CHECK(feats64.data<double>()[4] == 3.0 / (64.0 / 5)); // (3 - 0) / scale, in double
    CHECK_THROWS(p.with_output_dtype(AIS_DTYPE_I64), AIS_E_DTYPE, "");
    try {
        p.run_csv("v\nabc\n\n7\n");
        CHECK(false);
    } catch (const aistack::SchemaError &e) {
        CHECK(e.status() == AIS_E_SCHEMA && e.problems().size() == 1);
        CHECK(e.problems()[0].row == 0 && e.problems()[0].field == "v");
    }
    std::string path = "/tmp/aistack_cpp_pipeline_" + std::to_string(std::random_device{}()) +
                       ".ais";
    {
        aistack::Model plain(MODEL);
        CHECK(!plain.pipeline());
        plain.save(path, p);
    }
    aistack::Model m(path);
    CHECK(m.pipeline() && m.pipeline().spec() == spec);
    aistack::Session s = m.session();
    std::vector<aistack::Tensor> want = s.run({feats});
    std::vector<aistack::Tensor> got = s.run_csv(csv);
    std::vector<aistack::Tensor> got_jl = s.run_json_rows("{\"v\":3,\"c\":\"x\"}\n{\"v\":5.5}\n");
    ais_field r0[] = {{"v", AIS_VALUE_NUMBER, 3, nullptr}};
    ais_field r1[] = {{"v", AIS_VALUE_NUMBER, 5.5, nullptr}, {"c", AIS_VALUE_MISSING, 0, nullptr}};
    std::vector<aistack::Tensor> got_rec = s.run_records(
        {std::vector<ais_field>(r0, r0 + 1), std::vector<ais_field>(r1, r1 + 2)}, {"digit"});
    CHECK(got.size() == want.size() && got_rec.size() == 1);
    for (size_t i = 0; i < want.size(); i++) {
        CHECK(got[i].nbytes() == want[i].nbytes() &&
              std::memcmp(got[i].raw_data(), want[i].raw_data(), want[i].nbytes()) == 0);
        CHECK(std::memcmp(got_jl[i].raw_data(), want[i].raw_data(), want[i].nbytes()) == 0);
    }
    CHECK(std::memcmp(got_rec[0].raw_data(), want[1].raw_data(), want[1].nbytes()) == 0);
    CHECK_THROWS(aistack::Model(MODEL).session().run_csv(csv), AIS_E_INVALID_ARGUMENT,
                 "no feature pipeline");
    // Columns: v as f64, c as strings (the features do not use c), one column not an input:
    // a schema problem by default, skipped by a session made with AIS_OPT_EXTRA_FIELDS ignore.
    aistack::Tensor v = aistack::Tensor::from(std::vector<double>{3, 5.5}, {2});
    aistack::Tensor other = aistack::Tensor::from(std::vector<int32_t>{1, 2}, {2});
    ais_tensor *craw = nullptr;
    const char *cvals[] = {"x", "y"};
    aistack::check(ais_tensor_create_strings(std::vector<int64_t>{2}.data(), 1, cvals, &craw));
    aistack::Tensor c(craw);
    CHECK_THROWS(s.run_columns({{"c", &c}, {"v", &v}, {"o", &other}}), AIS_E_SCHEMA,
                 "field \"o\": unknown field");
    aistack::Options ignoring;
    ignoring.set(AIS_OPT_EXTRA_FIELDS, AIS_EXTRA_FIELDS_IGNORE);
    std::vector<aistack::Tensor> got_col =
        m.session(&ignoring).run_columns({{"c", &c}, {"v", &v}, {"o", &other}});
    CHECK(got_col.size() == want.size());
    for (size_t i = 0; i < want.size(); i++)
        CHECK(got_col[i].nbytes() == want[i].nbytes() &&
              std::memcmp(got_col[i].raw_data(), want[i].raw_data(), want[i].nbytes()) == 0);
    std::vector<aistack::Tensor> got_col1 = s.run_columns({{"v", &v}}, {"digit"});
    CHECK(got_col1.size() == 1 &&
          std::memcmp(got_col1[0].raw_data(), want[1].raw_data(), want[1].nbytes()) == 0);
    try {
        s.run_columns({{"c", &c}}); // v is required: every row misses it
        CHECK(false);
    } catch (const aistack::SchemaError &e) {
        CHECK(e.problems().size() == 2 && e.problems()[1].row == 1 &&
              e.problems()[1].field == "v");
    }
    CHECK_THROWS(s.run_columns({{"v", &c}}), AIS_E_DTYPE, "expected f32, f64, i32 or i64");
    CHECK_THROWS(aistack::Model(MODEL).session().run_columns({{"v", &v}}),
                 AIS_E_INVALID_ARGUMENT, "no feature pipeline");
    std::remove(path.c_str());
}

// A text model (issue 14): tests/fixtures/text's stand-in BERT (emb[i][j] = i + j / 10) and
// vocab, converted with mean pooling; raw text in, the mean of the token rows out.
static void test_text() {
    std::string path = "/tmp/aistack_cpp_text_" + std::to_string(std::random_device{}()) + ".ais";
    aistack::Options o;
    o.set(AIS_OPT_TEXT_MAX_LENGTH, 16).set(AIS_OPT_TEXT_POOLING, AIS_TEXT_POOLING_MEAN);
    aistack::text_convert("tests/fixtures/text/tiny_bert.onnx", "tests/fixtures/text/vocab.txt",
                          path, &o);
    aistack::Model m(path);
    CHECK(m.outputs().size() == 1 && m.outputs()[0].name == "sentence_embedding");
    aistack::Session s = m.session();
    // [CLS]=2 hello=4 world=5 ##s=8 !=7 [SEP]=3, and [CLS] hello [SEP]
    std::vector<aistack::Tensor> y =
        s.run_json_rows("{\"text\": \"Hello worlds!\"}\n{\"text\": \"hello\"}\n");
    CHECK(y.size() == 1 && y[0].shape() == (std::vector<int64_t>{2, 3}));
    const float *d = y[0].data<float>();
    for (int j = 0; j < 3; j++) {
        CHECK(std::fabs(d[j] - (29.0f / 6 + j / 10.0f)) < 1e-5f);
        CHECK(std::fabs(d[3 + j] - (3.0f + j / 10.0f)) < 1e-5f);
    }
    bool threw = false;
    try {
        s.run_json_rows("{\"text\": 5}\n");
    } catch (const aistack::SchemaError &) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        aistack::text_convert("tests/fixtures/text/tiny_bert.onnx", "no/such/vocab.txt", path);
    } catch (const aistack::Error &) {
        threw = true;
    }
    CHECK(threw);
    std::remove(path.c_str());
}

/* Image fields: pixels give exact values, and a file's path and its bytes the same tensor. */
static void test_image_fields() {
    auto p = aistack::Pipeline::from_json(
        R"({"version": 1, "inputs": [{"name": "img", "type": "image"}], "features": [{"input":
        "img", "steps": [{"op": "center_crop", "size": [2, 2]}, {"op": "to_tensor"}]}]})");
    uint8_t px[2 * 2 * 3];
    for (int i = 0; i < 12; i++)
        px[i] = static_cast<uint8_t>(20 * i);
    auto pixels = aistack::Tensor::wrap(px, {2, 2, 3});
    aistack::Tensor t = p.run_records({{aistack::image_pixels("img", pixels)}});
    const float *v = t.data<float>();
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++)
            CHECK(v[c * 4 + i] == static_cast<float>(px[i * 3 + c]) / 255.0f);
    const char *path = "tests/fuzz/corpus/image/rgb.png";
    std::FILE *f = std::fopen(path, "rb");
    CHECK(f != nullptr);
    if (!f) return;
    std::vector<unsigned char> bytes(1 << 16);
    bytes.resize(std::fread(bytes.data(), 1, bytes.size(), f));
    std::fclose(f);
    aistack::Tensor a = p.run_records({{aistack::image_path("img", path)},
                                       {aistack::image_bytes("img", bytes.data(), bytes.size())}});
    CHECK(std::memcmp(a.data<float>(), a.data<float>() + 12, 12 * sizeof(float)) == 0);
}

// Session::profile over AIS_OPT_PROFILE: every node counts one call per run, the nodes' time is
// within the runs' wall time, reset zeroes the counts, and a session without it throws.
static void test_profile() {
    aistack::Model m(MODEL);
    aistack::Options o;
    o.threads(1).profile();
    CHECK(o.get(AIS_OPT_PROFILE) == 1);
    aistack::Session s = m.session(&o);
    aistack::Tensor x = aistack::Tensor::load("models/digits/test_batch.npy");
    for (int r = 0; r < 4; r++) {
        (void)s.run({x});
    }
    aistack::Session::Profile p = s.profile();
    CHECK(p.runs == 4 && !p.nodes.empty() && p.nodes.size() == ais_session_node_count(s.get()));
    uint64_t sum = 0;
    for (const auto &n : p.nodes) {
        CHECK(n.calls == 4 && n.total_ns > 0 && !n.op_type.empty());
        CHECK(n.backend == AIS_BACKEND_CPU);
        sum += n.total_ns;
    }
    CHECK(sum > 0 && sum <= p.total_ns);
    s.profile_reset();
    CHECK(s.profile().runs == 0 && s.profile().nodes[0].calls == 0);
    aistack::Session plain = m.session();
    CHECK_THROWS(plain.profile(), AIS_E_INVALID_ARGUMENT, "AIS_OPT_PROFILE");
}

// Monitoring (issue 15): a shared Monitor counts two sessions' runs and writes Prometheus text;
// a Profile compares with itself (no drift) and with a shifted copy (drift) through drift_json.
static void test_monitor() {
    aistack::Monitor mon({0.001, 1.0});
    aistack::Model m(MODEL);
    aistack::Options o;
    o.monitor(mon);
    aistack::Session a = m.session(&o), b = m.session(&o);
    aistack::Tensor x = aistack::Tensor::load("models/digits/test1_label8.npy");
    for (int i = 0; i < 3; i++) {
        a.run({x});
        b.run({x});
    }
    CHECK(mon.metric(AIS_METRIC_RUNS) == 6);
    CHECK(a.metric(AIS_METRIC_RUNS) == 3);
    std::string text = mon.prometheus();
    CHECK(text.find("aistack_runs_total{model=") != std::string::npos);
    CHECK(text.find("aistack_run_duration_seconds_bucket{") != std::string::npos);
    CHECK(text.find("le=\"+Inf\"} 6\n") != std::string::npos);
    CHECK_THROWS(aistack::Monitor(std::vector<double>{1.0, 0.5}), AIS_E_INVALID_ARGUMENT, "bound");

    aistack::Profile ref(0, 0, 1), same(0, 0, 2), moved(0, 0, 3);
    std::vector<double> v0, v1;
    for (int i = 0; i < 500; i++) {
        v0.push_back(std::sin(i * 1.7) * 3);
        v1.push_back(std::sin(i * 1.7) * 3 + 4);
    }
    for (aistack::Profile *p : {&ref, &same, &moved})
        p->add_feature("v", AIS_FEATURE_NUMERIC);
    ref.observe(0, v0);
    same.observe(0, v0);
    moved.observe(0, v1);
    CHECK(ref.drift_json(same).find("\"dataset_drift\": false") != std::string::npos);
    CHECK(ref.drift_json(moved).find("\"dataset_drift\": true") != std::string::npos);
    std::vector<uint8_t> bytes = ref.to_bytes();
    aistack::Profile back = aistack::Profile::from_bytes(bytes.data(), bytes.size());
    CHECK(back.to_bytes() == bytes);
    bytes[bytes.size() / 2] ^= 1;
    CHECK_THROWS(aistack::Profile::from_bytes(bytes.data(), bytes.size()), AIS_E_CHECKSUM,
                 "checksum");
}

// Live drift windows (issue 15 item 4): a model saved with a reference profile of the predicted
// digit; a session that ran only label-8 images drifts from a reference of varied digits, a
// session without a window says so, and the monitor's merged report agrees with the session's.
static void test_live_drift() {
    aistack::Model m(MODEL);
    aistack::Profile ref(0, 0, 1);
    ref.add_feature("digit", AIS_FEATURE_CATEGORICAL);
    std::vector<const char *> digits;
    static const char *const names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    for (int i = 0; i < 300; i++)
        digits.push_back(names[i % 10]);
    ref.observe(0, digits);
    std::string path = "/tmp/test_cpp_live_" + std::to_string(getpid()) + ".ais";
    aistack::check(ais_model_save_with_profile(m.get(), ref.get(), path.c_str(), nullptr));
    aistack::Model mp(path);
    unlink(path.c_str());
    aistack::Monitor mon;
    aistack::Options o;
    o.monitor(mon).set(AIS_OPT_DRIFT_WINDOW, 100);
    aistack::Session s = mp.session(&o);
    aistack::Tensor x = aistack::Tensor::load("models/digits/test1_label8.npy");
    for (int i = 0; i < 40; i++)
        s.run({x});
    CHECK(s.metric(AIS_METRIC_WINDOW_ROWS) == 40);
    std::string live = s.drift_json();
    CHECK(live.find("\"digit\": {\"kind\": \"categorical\"") != std::string::npos);
    CHECK(live.find("\"dataset_drift\": true") != std::string::npos);
    CHECK(mon.drift_json() == live);
    aistack::Session plain = m.session();
    CHECK_THROWS(plain.drift_json(), AIS_E_NOT_FOUND, "no drift window");
}

int main() {
    test_model_info();
    test_profile();
    test_labelled_digits();
    test_batch_accuracy_and_run_into();
    test_run_buffers();
    test_errors();
    test_ownership();
    test_run_op();
    test_threads();
    test_shared_session_busy();
    test_pipeline();
    test_text();
    test_image_fields();
    test_monitor();
    test_live_drift();
    if (failures) {
        std::fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all C++ binding checks passed\n");
    return 0;
}
