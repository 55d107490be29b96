#include "physynth/domains/crop/lingra.h"

#include "daily_cvode.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "physynth/domains/crop/evapotranspiration.h"
#include "physynth/domains/crop/phenology.h"
#include "physynth/domains/crop/water_balance_fd.h"

namespace physynth::domains::crop {
namespace {
constexpr const char* kModel = "LINGRA";

struct Params {
  double LAIinit, TillerNumberinit, WeightREinit, WeightRTinit, LAIcrit, RDRbase, SLA, TempBase, TSUMmax, RDRshading,
      RDRdrought, CO2A, LUEmax, SiteFillingMax, TillerFormRateA0, TillerFormRateB0, TillerFormRateA8, TillerFormRateB8,
      TemperatureSoilinit, RDI, RRI, RDMCR, RDMSOL, IOX;
  Afgen PartitioningRootsTB, LUEreductionSoilTempTB, LUEreductionRadiationTB;
  EvapotranspirationParameters et;
  WaterBalanceFDParameters soil;  // water-limited only

  void read(const CropParameters& p, bool water_limited, core::Diagnostics& d) {
    auto n = [&](const char* name) { return p.number(name, kModel, d); };
    auto t = [&](const char* name) { return p.table(name, kModel, d); };
    LAIinit = n("LAIinit"), TillerNumberinit = n("TillerNumberinit"), WeightREinit = n("WeightREinit");
    WeightRTinit = n("WeightRTinit"), LAIcrit = n("LAIcrit"), RDRbase = n("RDRbase"), SLA = n("SLA");
    TempBase = n("TempBase"), TSUMmax = n("TSUMmax"), RDRshading = n("RDRshading"), RDRdrought = n("RDRdrought");
    CO2A = n("CO2A"), LUEmax = n("LUEmax"), SiteFillingMax = n("SiteFillingMax");
    TillerFormRateA0 = n("TillerFormRateA0"), TillerFormRateB0 = n("TillerFormRateB0");
    TillerFormRateA8 = n("TillerFormRateA8"), TillerFormRateB8 = n("TillerFormRateB8");
    TemperatureSoilinit = n("TemperatureSoilinit"), RDI = n("RDI"), RRI = n("RRI"), RDMCR = n("RDMCR");
    RDMSOL = n("RDMSOL"), IOX = n("IOX");
    PartitioningRootsTB = t("PartitioningRootsTB"), LUEreductionSoilTempTB = t("LUEreductionSoilTempTB");
    LUEreductionRadiationTB = t("LUEreductionRadiationTB");
    et = {n("CFET"), n("DEPNR"), n("SMW"), n("SMFCF"), t("KDIFTB")};
    if (water_limited) soil.read(p, kModel, d);
  }
};

enum State { TSUM, LAI, TILLERS, WLVG, WHARV, WRE, WRT, LEAFLEN, TSOIL, RD, kStates };

// What a day holds fixed: its weather (a day's own for Euler, interpolated for CVODE), the
// days since the last cut, and whether the grass is cut (down to `remaining`) that day.
struct Drivers {
  double temp = 0, dtr_mj = 0, e0 = 0, es0 = 0, et0 = 0;  // degC, MJ/m2/d, cm/d
  double sm = 0;  // root-zone soil moisture at the day's start, m3/m3
  int days_after_harvest = 0, cuttings = 0;
  bool tillers_capped = false;  // more than 14,000 tillers/m2 at the day's start: no new ones that day
  bool mowing = false;
  double remaining = 0;
};

// LINGRA's rates, dy/dt per day, for doubles and Ceres jets (PCSE's LINGRA). A mowing day is
// spent on the cut: the green leaves above `remaining` go to the harvest, leaf area with them,
// the leaf length restarts, and nothing grows that day (unless there was nothing to cut).
template <class T>
void lingra_rates(const Params& p, const Drivers& d, const T* y, T* f) {
  const T SLAINT = y[LAI] / y[WLVG];
  const T DVS = y[TSUM] / p.TSUMmax;
  const double RDM = std::max(p.RDI, std::min(p.RDMCR, p.RDMSOL));
  f[TSUM] = T(std::max(d.temp - p.TempBase, 0.0));
  f[TSOIL] = (d.temp - y[TSOIL]) / 10.0;
  f[RD] = tmin(RDM - y[RD], T(p.RRI));
  // The soil moisture is the day's (field capacity under potential production).
  const double rftra = evapotranspiration(p.et, value_of(DVS), value_of(y[LAI]), d.sm, d.e0, d.es0, d.et0).RFTRA;
  const T dWeightHARV = d.mowing ? tmax(T(0.0), y[WLVG] - d.remaining) : T(0.0);
  const double rdr_drought = limit(0.0, p.RDRdrought, p.RDRdrought * (1.0 - rftra));
  const T rdr_shading = limit(0.0, p.RDRshading, p.RDRshading * (y[LAI] - p.LAIcrit) / p.LAIcrit);
  const T rdr_total = p.RDRbase + tmax(rdr_shading, T(rdr_drought));
  using std::exp;
  const T LAIdeath = d.mowing ? dWeightHARV * SLAINT : y[LAI] * (1.0 - exp(-rdr_total));
  const double RTfraction = p.PartitioningRootsTB(rftra);
  const double LVfraction = 1.0 - RTfraction;
  // Source-limited growth (kg DM/ha/d): LUE x intercepted PAR, with the CO2 effect.
  const T rf_temperature = p.LUEreductionSoilTempTB(y[TSOIL]);
  const T fint = 1.0 - exp(-p.et.KDIFTB(DVS) * y[LAI]);
  const T lue = p.LUEmax * rf_temperature * p.LUEreductionRadiationTB(d.dtr_mj) * rftra;
  const bool cut = value_of(dWeightHARV) > 0.0;  // a mowing day with leaves above the stubble
  const T growth_source = cut ? T(0.0) : lue * fint * 0.5 * d.dtr_mj * (1.0 + 0.8 * std::log(p.CO2A / 360.0)) * 10.0;
  // Sink-limited growth: tillering and leaf elongation.
  const T leaf_appearance = rf_temperature > 0.0 ? y[TSOIL] * 0.01 : T(0.0);
  const T tiller_formation =
      d.days_after_harvest < 8
          ? tmax(T(0.0), p.TillerFormRateA0 - p.TillerFormRateB0 * y[LAI]) * rf_temperature
          : limit(0.0, p.SiteFillingMax, p.TillerFormRateA8 - p.TillerFormRateB8 * y[LAI]) * rf_temperature;
  const T tiller_death = tmax(0.01 * (1.0 + y[TSUM] / p.TSUMmax), 0.05 * (y[LAI] - p.LAIcrit) / p.LAIcrit);
  f[TILLERS] = !d.tillers_capped ? (tiller_formation - tiller_death) * leaf_appearance * y[TILLERS]
                                 : -tiller_death * leaf_appearance * y[TILLERS];
  const double dLeafLengthPot = d.temp - p.TempBase > 0.0 ? 0.83 * std::log(std::max(d.temp, 2.0)) - 0.8924 : 0.0;
  const T lai_growth_sink = y[TILLERS] * 1.0e4 * (dLeafLengthPot * 0.3) * 1.0e-8;
  const T growth_sink = cut ? T(0.0) : lai_growth_sink / p.SLA / LVfraction;
  T growth;
  if (growth_source < growth_sink) {
    const T from_reserves = tmin(y[WRE], growth_sink - growth_source);
    growth = growth_source + from_reserves;
    f[WRE] = -from_reserves;
  } else {
    f[WRE] = growth_source - growth_sink;
    growth = growth_sink;
  }
  const T LVgrowth = cut ? T(0.0) : growth * LVfraction;
  f[LAI] = growth * LVfraction * p.SLA - LAIdeath;
  f[WLVG] = LVgrowth - LAIdeath / SLAINT;
  f[WHARV] = dWeightHARV;
  f[WRT] = growth * RTfraction;
  f[LEAFLEN] = cut ? -y[LEAFLEN] : (growth_sink > 0.0 ? dLeafLengthPot * growth / growth_sink : T(0.0));
}

// LINGRA as an ODE for CVODE within one day: the day's discrete drivers, the weather
// interpolated between the middles of days.
class LingraOde : public DailyOde<LingraOde> {
 public:
  LingraOde(const Params& p, const WeatherRecord& weather, long first)
      : DailyOde("lingra", {"TSUM", "LAI", "TillerNumber", "WeightLVgreen", "WeightHARV", "WeightRE", "WeightRT",
                            "LeafLength", "TemperatureSoil", "RD"}),
        p_(p),
        weather_(weather),
        first_(first) {}

  template <class T>
  void evaluate(const T& t, const T* y, const T* /*p*/, T* dydt) const {
    Drivers d = today;
    const DailyWeather w = interpolated_weather(weather_, first_, value_of(t));
    d.temp = 0.5 * (w.tmin_c + w.tmax_c), d.dtr_mj = w.irradiation_j_m2 / 1e6;
    d.e0 = w.e0_mm / 10, d.es0 = w.es0_mm / 10, d.et0 = w.et0_mm / 10;
    lingra_rates(p_, d, y, dydt);
  }
  Drivers today;

 private:
  const Params& p_;
  const WeatherRecord& weather_;
  long first_;
};

}  // namespace

std::optional<LingraResult> run_lingra(const CropParameters& params, const Agromanagement& run,
                                       const WeatherRecord& weather, const LingraOptions& options,
                                       core::Diagnostics& diags) {
  const std::size_t errors_before = diags.error_count();
  const bool water_limited = options.water == WaterSupply::kWaterLimited;
  Params p;
  p.read(params, water_limited, diags);
  if (p.IOX != 0.0)
    diags.error({params.description, 0, 0}, "IOX = 1 (oxygen shortage) is not implemented; use IOX = 0");
  const CropCalendar& c = run.calendar;
  if (c.end == CropEnd::kMaturity)
    diags.error({params.description, 0, 0},
                "LINGRA runs to a crop_end_date (crop_end_type harvest or earliest): grass does not mature");
  const long first = weather.index_of(c.start_year, c.start_day);
  const long last = weather.index_of(c.end_year, c.end_day);
  if (c.end != CropEnd::kMaturity && (first < 0 || last < first))
    diags.error({weather.source, 0, 0}, "the weather does not cover " + format_date(c.start_year, c.start_day) +
                                            " to " + format_date(c.end_year, c.end_day));
  if (water_limited)
    for (long k = std::max(first, 0L); k <= last && k < static_cast<long>(weather.days.size()); ++k)
      if (std::isnan(weather.days[static_cast<std::size_t>(k)].rain_mm)) {
        const auto& w = weather.days[static_cast<std::size_t>(k)];
        diags.error({weather.source, 0, 0}, "water-limited LINGRA needs rain on every day; it is missing on " +
                                                format_date(w.year, w.day_of_year));
        break;
      }
  if (diags.error_count() > errors_before) return std::nullopt;

  std::optional<WaterBalanceFD> soil;
  if (water_limited) soil.emplace(p.soil);
  std::vector<double> y(kStates, 0.0), f(kStates);
  y[LAI] = p.LAIinit, y[TILLERS] = p.TillerNumberinit, y[WLVG] = p.LAIinit / p.SLA;
  y[WRE] = p.WeightREinit, y[WRT] = p.WeightRTinit, y[TSOIL] = p.TemperatureSoilinit, y[RD] = p.RDI;
  std::unique_ptr<LingraOde> ode;
  std::unique_ptr<DailyCvode> cvode;
  if (options.scheme == CropScheme::kCvode) {
    ode = std::make_unique<LingraOde>(p, weather, first);
    cvode = std::make_unique<DailyCvode>(*ode, options.rtol, options.atol);
  }
  Drivers d;
  LingraResult out;
  for (long k = 0; first + k <= last; ++k) {
    const DailyWeather& w = weather.days[static_cast<std::size_t>(first + k)];
    d.mowing = false;
    for (const Mowing& m : run.mowings)
      if (m.year == w.year && m.day == w.day_of_year) d.mowing = true, d.remaining = m.biomass_remaining;
    d.temp = 0.5 * (w.tmin_c + w.tmax_c), d.dtr_mj = w.irradiation_j_m2 / 1e6;
    d.e0 = w.e0_mm / 10, d.es0 = w.es0_mm / 10, d.et0 = w.et0_mm / 10;
    d.sm = soil ? soil->SM : p.et.SMFCF;
    // The day's water use at its start: the crop's transpiration, then the soil's balance.
    const Evapotranspiration et =
        evapotranspiration(p.et, y[TSUM] / p.TSUMmax, y[LAI], d.sm, d.e0, d.es0, d.et0);
    if (soil) soil->calc_rates(w, {true, et.TRA, et.EVWMX, et.EVSMX}, y[RD]);
    // Decided once a day, as PCSE's daily step does (within a day under CVODE the cap would
    // switch on and off without end).
    d.tillers_capped = y[TILLERS] > 14000.0;
    // Report the day's starting state, then step: Euler, or CVODE across the day. A mowing day
    // is the discrete event, an Euler step of the cut in both schemes.
    out.year.push_back(w.year);
    out.day.push_back(w.day_of_year);
    out.weight_abg.push_back(y[WHARV] + y[WLVG]);
    out.weight_lv_green.push_back(y[WLVG]);
    out.lai.push_back(y[LAI]);
    out.tillers.push_back(y[TILLERS]);
    out.weight_harv.push_back(y[WHARV]);
    out.weight_re.push_back(y[WRE]);
    out.weight_rt.push_back(y[WRT]);
    out.leaf_length.push_back(y[LEAFLEN]);
    out.sm.push_back(d.sm);
    out.tra.push_back(et.TRA);
    out.evs.push_back(soil ? soil->EVS : 0.0);
    out.rftra.push_back(et.RFTRA);
    if (options.scheme == CropScheme::kEuler || d.mowing) {
      lingra_rates(p, d, y.data(), f.data());
      for (int i = 0; i < kStates; ++i) y[static_cast<std::size_t>(i)] += f[static_cast<std::size_t>(i)];
    } else {
      ode->today = d;
      if (!cvode->step(k, y, weather, w, diags, &out.solver_steps)) return std::nullopt;
    }
    if (soil) soil->integrate(y[RD]);
    // The days since the last cut count whole days, after the first cut.
    if (d.mowing) {
      d.days_after_harvest = 0;
      ++d.cuttings;
    } else if (d.cuttings > 0) {
      ++d.days_after_harvest;
    }
  }
  return out;
}

}  // namespace physynth::domains::crop
