#include "physynth/domains/manufacturing/yaml_binding.h"

#include <cmath>
#include <memory>

#include "physynth/domains/manufacturing/bearing.h"
#include "physynth/domains/manufacturing/tool_wear.h"

namespace physynth::domains::manufacturing {

std::vector<double> defaults_for(const std::string& type) {
  if (type == "tool_wear") {
    std::vector<double> p(ToolWear::kParameterCount);
    // The NASA milling calibration (domain README) for cast iron at its reference conditions.
    p[ToolWear::kRate] = 0.004;
    p[ToolWear::kSpeed] = 200.0;
    p[ToolWear::kSpeedRef] = 200.0;
    p[ToolWear::kSpeedExponent] = 2.0;  // Taylor n ~ 0.3-0.5 for carbide: wear rate ~ v^(1/n - 1)
    p[ToolWear::kFeed] = 0.25;
    p[ToolWear::kFeedRef] = 0.25;
    p[ToolWear::kFeedExponent] = 0.27;
    p[ToolWear::kDepth] = 0.75;
    p[ToolWear::kDepthRef] = 0.75;
    p[ToolWear::kDepthExponent] = 0.58;
    p[ToolWear::kBreakInGain] = 0.51;
    p[ToolWear::kBreakInScale] = 0.10;
    p[ToolWear::kForceScale] = 0.52;
    p[ToolWear::kWear0] = 0.0;
    return p;
  }
  if (type == "bearing") {
    using B = BearingDegradation;
    std::vector<double> p(B::kParameterCount);
    p[B::kParisC] = 5e-15;  // ~480 h from a 0.05 mm seed to a 2 mm spall at 5 kN and 30 Hz
    p[B::kParisM] = 3.0;
    p[B::kGeometryFactor] = 1.12;
    p[B::kStressRef] = 300.0;
    p[B::kLoadRef] = 5.0;
    p[B::kLoad] = 5.0;
    p[B::kShaftHz] = 30.0;
    p[B::kBpfo] = defect_orders(BearingGeometry::skf_6205()).bpfo;
    p[B::kOnset] = 0.0;
    p[B::kOnsetWidth] = 1.0;
    p[B::kFriction] = 0.0015;
    p[B::kFrictionGain] = 0.5;
    p[B::kBoreDiameter] = 25.0;
    p[B::kHeatTransfer] = 1.2;
    p[B::kHeatCapacity] = 800.0;
    p[B::kAmbient] = 25.0;
    p[B::kSpall0] = 0.05;
    p[B::kTemperature0] = 25.0;
    p[B::kFaultMode] = 1.0;  // outer race
    p[B::kImpulseGain] = 1.0;
    p[B::kImbalance] = 0.1;
    p[B::kVibrationNoise] = 0.05;
    p[B::kResonance] = 3000.0;
    return p;
  }
  return {};
}

std::optional<core::BuiltModel> build_from_yaml(const core::ConfigNode& node) {
  auto& diags = node.diagnostics();
  const std::size_t errors_before = diags.error_count();
  if (!node.expect_map() || !node.require("type")) return std::nullopt;
  const auto type = node["type"].as_enum({"tool_wear", "bearing"});
  if (!type) return std::nullopt;

  std::vector<double> defaults = defaults_for(*type);
  BearingGeometry geometry = BearingGeometry::skf_6205();
  SnapshotOptions snapshot;
  if (*type == "bearing" && node.has("geometry")) {
    const core::ConfigNode g = node["geometry"];
    if (g.expect_map()) {
      g.check_keys({"rolling_elements", "ball_diameter", "pitch_diameter", "contact_angle_deg"});
      bool ok = true;
      auto positive = [&](const core::ConfigNode& parent, const char* key, double& target) {
        if (!parent.has(key)) return;
        auto v = parent[key].as_number();
        if (!v)
          ok = false;
        else if (!(*v > 0.0)) {
          parent[key].error(parent[key].path() + " must be > 0, got " + parent[key].scalar());
          ok = false;
        } else {
          target = *v;
        }
      };
      double elements = geometry.rolling_elements, angle_deg = 0.0;
      positive(g, "rolling_elements", elements);
      positive(g, "ball_diameter", geometry.ball_diameter);
      positive(g, "pitch_diameter", geometry.pitch_diameter);
      if (g.has("contact_angle_deg")) {
        if (auto v = g["contact_angle_deg"].as_number()) {
          if (*v < 0.0 || *v >= 90.0) {
            g["contact_angle_deg"].error(g["contact_angle_deg"].path() + " must be in [0, 90), got " +
                                         g["contact_angle_deg"].scalar());
            ok = false;
          }
          angle_deg = *v;
        } else {
          ok = false;
        }
      }
      geometry.rolling_elements = static_cast<int>(elements);
      geometry.contact_angle_rad = angle_deg * M_PI / 180.0;
      if (ok && !(geometry.ball_diameter < geometry.pitch_diameter)) {
        g.error(g.path() + ": ball_diameter (" + core::format_number(geometry.ball_diameter) +
                ") must be smaller than pitch_diameter (" + core::format_number(geometry.pitch_diameter) + ")");
        ok = false;
      }
      if (ok) defaults[BearingDegradation::kBpfo] = defect_orders(geometry).bpfo;
    }
  }
  if (*type == "bearing" && node.has("snapshot")) {
    const core::ConfigNode sn = node["snapshot"];
    if (sn.expect_map()) {
      sn.check_keys({"sample_rate_hz", "duration_s", "damping_ratio", "slip_fraction"});
      auto read = [&](const char* key, double& target, double low, double high) {
        if (!sn.has(key)) return;
        if (auto v = sn[key].as_number()) {
          if (*v > low && *v < high)
            target = *v;
          else
            sn[key].error(sn[key].path() + " must be in (" + core::format_number(low) + ", " +
                          core::format_number(high) + "), got " + sn[key].scalar());
        }
      };
      read("sample_rate_hz", snapshot.sample_rate_hz, 100.0, 1e7);
      read("duration_s", snapshot.duration_s, 0.0, 60.0);
      read("damping_ratio", snapshot.damping_ratio, 0.0, 1.0);
      read("slip_fraction", snapshot.slip_fraction, -1e-300, 0.2);
    }
  }

  core::BuiltModel built;
  if (*type == "tool_wear")
    built.model = std::make_shared<ToolWear>();
  else
    built.model = std::make_shared<BearingDegradation>(geometry, snapshot);
  const auto& params = built.model->parameters();

  std::vector<std::string> allowed = {"type"};
  for (const auto& p : params) allowed.push_back(p.name);
  if (*type == "bearing") allowed.insert(allowed.end(), {"geometry", "snapshot"});
  node.check_keys(allowed);

  built.parameters.resize(params.size());
  for (std::size_t k = 0; k < params.size(); ++k) {
    core::ModelParameterRef& ref = built.parameters[k];
    ref.literal = defaults[k];
    ref.overridable = true;
    ref.referenced_at = node.location();
    ref.referenced_by = node.path() + "." + params[k].name;
    if (!node.has(params[k].name)) continue;
    const core::ConfigNode v = node[params[k].name];
    ref.referenced_at = v.location();
    ref.referenced_by = v.path();
    const std::string text = v.scalar();
    if (v.is_scalar() && core::is_identifier(text) && text != params[k].name) {
      // A scenario parameter of another name: not possible, since the engine matches by name.
      v.error(v.path() + " must be a number; to sample it, define '" + params[k].name + "' under parameters");
    } else if (auto x = v.as_number()) {
      ref.literal = *x;
    }
  }
  if (diags.error_count() > errors_before) return std::nullopt;
  return built;
}

}  // namespace physynth::domains::manufacturing
