#pragma once

// Small generated models and a plain reference forward pass for the model
// tests: double precision, no SIMD, no threads, weights dequantized row by
// row with kernels::dequantize_row. Written independently of the engine's
// code so both would have to be wrong the same way for a test to pass.

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/kernels/quantize.h"
#include "engine/model/model_config.h"
#include "engine/model/model_maker.h"

namespace tether::model::testing {

inline MakeModelOptions small_options(Architecture arch, TensorType type, uint64_t seed = 7) {
  MakeModelOptions options;
  options.shape = model_shape_preset("tiny");
  options.shape.ffn = 512;
  options.shape.vocab_size = 512;  // keeps each test model quick to build
  options.arch = arch;
  options.type = type;
  options.seed = seed;
  options.threads = 1;
  return options;
}

inline std::shared_ptr<const gguf::GgufFile> make_model(const MakeModelOptions& options) {
  return std::make_shared<const gguf::GgufFile>(
      gguf::GgufFile::from_bytes(ModelMaker(options).write_to_memory(), "test-model"));
}

class ReferenceModel {
 public:
  explicit ReferenceModel(const gguf::GgufFile& file)
      : file_(file), config_(ModelConfig::from_gguf(file)) {}

  const ModelConfig& config() const { return config_; }

  // Logits (vocab doubles per position) for every position of `tokens`,
  // processed as one sequence from position 0.
  std::vector<std::vector<double>> forward(const std::vector<int32_t>& tokens) const {
    const ModelConfig& c = config_;
    const int n = static_cast<int>(tokens.size());
    const int hd = c.head_dim;
    std::vector<std::vector<double>> x(n);
    for (int t = 0; t < n; ++t) x[t] = row("token_embd.weight", tokens[t]);

    for (int layer = 0; layer < c.n_layers; ++layer) {
      const std::string p = "blk." + std::to_string(layer) + ".";
      std::vector<std::vector<double>> q(n), k(n), v(n);
      for (int t = 0; t < n; ++t) {
        auto h = norm(x[t], vec(p + "attn_norm.weight"));
        q[t] = matvec(p + "attn_q.weight", h);
        k[t] = matvec(p + "attn_k.weight", h);
        v[t] = matvec(p + "attn_v.weight", h);
        if (file_.find_tensor(p + "attn_q.bias")) {
          add(q[t], vec(p + "attn_q.bias"));
          add(k[t], vec(p + "attn_k.bias"));
          add(v[t], vec(p + "attn_v.bias"));
        }
        if (c.arch == Architecture::kQwen3) {
          head_norm(q[t], vec(p + "attn_q_norm.weight"));
          head_norm(k[t], vec(p + "attn_k_norm.weight"));
        }
        rope(q[t], t);
        rope(k[t], t);
      }
      const int group = c.n_heads / c.n_kv_heads;
      for (int t = 0; t < n; ++t) {
        std::vector<double> attn(c.q_dim(), 0.0);
        for (int h = 0; h < c.n_heads; ++h) {
          const int g = h / group;
          std::vector<double> scores(t + 1);
          double max_score = -1e300;
          for (int s = 0; s <= t; ++s) {
            double dot = 0;
            for (int i = 0; i < hd; ++i) dot += q[t][h * hd + i] * k[s][g * hd + i];
            scores[s] = dot / std::sqrt(static_cast<double>(hd));
            max_score = std::max(max_score, scores[s]);
          }
          double sum = 0;
          for (auto& score : scores) sum += (score = std::exp(score - max_score));
          for (int s = 0; s <= t; ++s) {
            for (int i = 0; i < hd; ++i) attn[h * hd + i] += scores[s] / sum * v[s][g * hd + i];
          }
        }
        add(x[t], matvec(p + "attn_output.weight", attn));
        auto h2 = norm(x[t], vec(p + "ffn_norm.weight"));
        auto gate = matvec(p + "ffn_gate.weight", h2);
        auto up = matvec(p + "ffn_up.weight", h2);
        for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
        add(x[t], matvec(p + "ffn_down.weight", gate));
      }
    }
    const std::string out_name =
        file_.find_tensor("output.weight") ? "output.weight" : "token_embd.weight";
    std::vector<std::vector<double>> logits(n);
    for (int t = 0; t < n; ++t) logits[t] = matvec(out_name, norm(x[t], vec("output_norm.weight")));
    return logits;
  }

 private:
  std::vector<double> row(const std::string& name, int64_t r) const {
    const auto* info = file_.find_tensor(name);
    const auto cols = static_cast<int64_t>(info->dims[0]);
    const size_t rb = kernels::row_bytes(info->type, cols);
    std::vector<float> f(cols);
    kernels::dequantize_row(info->type, file_.tensor_data(*info).subspan(r * rb, rb), f);
    return {f.begin(), f.end()};
  }
  std::vector<double> vec(const std::string& name) const { return row(name, 0); }

  std::vector<double> matvec(const std::string& name, const std::vector<double>& in) const {
    const auto* info = file_.find_tensor(name);
    const int64_t rows = static_cast<int64_t>(info->dims[1]);
    std::vector<double> out(rows);
    for (int64_t r = 0; r < rows; ++r) {
      auto w = row(name, r);
      double sum = 0;
      for (size_t c = 0; c < w.size(); ++c) sum += w[c] * in[c];
      out[r] = sum;
    }
    return out;
  }

  std::vector<double> norm(const std::vector<double>& in, const std::vector<double>& w) const {
    double ss = 0;
    for (double v : in) ss += v * v;
    const double scale = 1.0 / std::sqrt(ss / in.size() + config_.rms_eps);
    std::vector<double> out(in.size());
    for (size_t i = 0; i < in.size(); ++i) out[i] = in[i] * scale * w[i];
    return out;
  }

  void head_norm(std::vector<double>& v, const std::vector<double>& w) const {
    const int hd = config_.head_dim;
    for (size_t h = 0; h * hd < v.size(); ++h) {
      std::vector<double> part(v.begin() + h * hd, v.begin() + (h + 1) * hd);
      part = norm(part, w);
      std::copy(part.begin(), part.end(), v.begin() + h * hd);
    }
  }

  static void add(std::vector<double>& y, const std::vector<double>& x) {
    for (size_t i = 0; i < y.size(); ++i) y[i] += x[i];
  }

  // RoPE written from the formulas (llama.cpp's conventions): normal
  // ordering rotates (2i, 2i+1), NeoX (i, i + d/2); linear scaling divides
  // the angle by the factor; YaRN ramps between interpolation and
  // extrapolation and scales by 1 + 0.1 ln(factor); rope_freqs divides.
  void rope(std::vector<double>& v, int pos) const {
    const RopeConfig& r = config_.rope;
    const int hd = config_.head_dim;
    const int pairs = r.n_dims / 2;
    std::vector<double> factors;
    if (file_.find_tensor("rope_freqs.weight")) factors = vec("rope_freqs.weight");
    double low = 0, high = 0;
    if (r.scaling == RopeScalingType::kYarn) {
      auto corr = [&](double rot) {
        return r.n_dims * std::log(r.original_context / (rot * 2 * M_PI)) / (2 * std::log(r.freq_base));
      };
      low = std::max(0.0, std::floor(corr(r.yarn_beta_fast)));
      high = std::min(r.n_dims - 1.0, std::ceil(corr(r.yarn_beta_slow)));
    }
    for (size_t h = 0; h * hd < v.size(); ++h) {
      for (int i = 0; i < pairs; ++i) {
        double theta = pos * std::pow(static_cast<double>(r.freq_base), -2.0 * i / r.n_dims);
        if (!factors.empty()) theta /= factors[i];
        double mscale = r.attn_factor;
        if (r.scaling == RopeScalingType::kLinear) theta /= r.factor;
        if (r.scaling == RopeScalingType::kYarn) {
          const double mix = (1 - std::clamp((i - low) / std::max(0.001, high - low), 0.0, 1.0));
          theta = theta / r.factor * (1 - mix) + theta * mix;
          mscale *= 1 + 0.1 * std::log(r.factor);
        }
        const bool neox = r.ordering == RopeOrdering::kNeox;
        const size_t a = h * hd + (neox ? i : 2 * i);
        const size_t b = h * hd + (neox ? i + pairs : 2 * i + 1);
        const double x0 = v[a], x1 = v[b];
        v[a] = (x0 * std::cos(theta) - x1 * std::sin(theta)) * mscale;
        v[b] = (x0 * std::sin(theta) + x1 * std::cos(theta)) * mscale;
      }
    }
  }

  const gguf::GgufFile& file_;
  ModelConfig config_;
};

}  // namespace tether::model::testing
