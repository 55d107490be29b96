#include "physynth/domains/crop/lingra.h"

#include <algorithm>
#include <cmath>

#include "physynth/domains/crop/evapotranspiration.h"
#include "physynth/domains/crop/phenology.h"

namespace physynth::domains::crop {
namespace {
constexpr const char* kModel = "LINGRA";

struct Params {
  double LAIinit, TillerNumberinit, WeightREinit, WeightRTinit, LAIcrit, RDRbase, SLA, TempBase, TSUMmax, RDRshading,
      RDRdrought, CO2A, LUEmax, SiteFillingMax, TillerFormRateA0, TillerFormRateB0, TillerFormRateA8, TillerFormRateB8,
      TemperatureSoilinit, RDI, RRI, RDMCR, RDMSOL, IOX;
  Afgen PartitioningRootsTB, LUEreductionSoilTempTB, LUEreductionRadiationTB;
  EvapotranspirationParameters et;

  void read(const CropParameters& p, core::Diagnostics& d) {
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
  }
};

}  // namespace

std::optional<LingraResult> run_lingra(const CropParameters& params, const Agromanagement& run,
                                       const WeatherRecord& weather, core::Diagnostics& diags) {
  const std::size_t errors_before = diags.error_count();
  Params p;
  p.read(params, diags);
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
  if (diags.error_count() > errors_before) return std::nullopt;

  // States.
  double TSUM = 0, LAI = p.LAIinit, TillerNumber = p.TillerNumberinit, WeightLVgreen = p.LAIinit / p.SLA;
  double WeightHARV = 0, WeightRE = p.WeightREinit, WeightRT = p.WeightRTinit, LeafLength = 0;
  double SLAINT = p.SLA, DVS = 0, TemperatureSoil = p.TemperatureSoilinit;
  double RD = p.RDI;
  const double RDM = std::max(p.RDI, std::min(p.RDMCR, p.RDMSOL));
  int DaysAfterHarvest = 0, CuttingNumber = 0;
  const double sm = p.et.SMFCF;  // potential production: the soil stays at field capacity
  LingraResult out;
  for (long i = first; i <= last; ++i) {
    const DailyWeather& w = weather.days[static_cast<std::size_t>(i)];
    double remaining = -1.0;
    for (const Mowing& m : run.mowings)
      if (m.year == w.year && m.day == w.day_of_year) remaining = m.biomass_remaining;
    const bool mowing = remaining >= 0.0;
    const double temp = 0.5 * (w.tmin_c + w.tmax_c);
    // Rates.
    const double dTSUM = std::max(temp - p.TempBase, 0.0);
    const double dTemperatureSoil = (temp - TemperatureSoil) / 10.0;
    const double RR = std::min(RDM - RD, p.RRI);
    const Evapotranspiration et = evapotranspiration(p.et, DVS, LAI, sm, w.e0_mm / 10, w.es0_mm / 10, w.et0_mm / 10);
    const double dWeightHARV = mowing ? std::max(0.0, WeightLVgreen - remaining) : 0.0;
    int dDaysAfterHarvest = 0;
    if (mowing)
      dDaysAfterHarvest = -DaysAfterHarvest;
    else if (CuttingNumber > 0)
      dDaysAfterHarvest = 1;
    const double rdr_drought = limit(0.0, p.RDRdrought, p.RDRdrought * (1.0 - et.RFTRA));
    const double rdr_shading = limit(0.0, p.RDRshading, p.RDRshading * (LAI - p.LAIcrit) / p.LAIcrit);
    const double rdr_total = p.RDRbase + std::max(rdr_shading, rdr_drought);
    const double LAIdeath = mowing ? dWeightHARV * SLAINT : LAI * (1.0 - std::exp(-rdr_total));
    const double RTfraction = p.PartitioningRootsTB(et.RFTRA);
    const double LVfraction = 1.0 - RTfraction;
    // Source-limited growth (kg DM/ha/d): LUE x intercepted PAR, with the CO2 effect.
    const double dtr = w.irradiation_j_m2 / 1e6;
    const double rf_temperature = p.LUEreductionSoilTempTB(TemperatureSoil);
    const double fint = 1.0 - std::exp(-p.et.KDIFTB(DVS) * LAI);
    const double lue = p.LUEmax * rf_temperature * p.LUEreductionRadiationTB(dtr) * et.RFTRA;
    const double growth_source =
        dWeightHARV == 0.0 ? lue * fint * 0.5 * dtr * (1.0 + 0.8 * std::log(p.CO2A / 360.0)) * 10.0 : 0.0;
    // Sink-limited growth: tillering and leaf elongation.
    const double leaf_appearance = rf_temperature > 0.0 ? TemperatureSoil * 0.01 : 0.0;
    const double tiller_formation =
        DaysAfterHarvest < 8
            ? std::max(0.0, p.TillerFormRateA0 - p.TillerFormRateB0 * LAI) * rf_temperature
            : limit(0.0, p.SiteFillingMax, p.TillerFormRateA8 - p.TillerFormRateB8 * LAI) * rf_temperature;
    const double tiller_death = std::max(0.01 * (1.0 + TSUM / p.TSUMmax), 0.05 * (LAI - p.LAIcrit) / p.LAIcrit);
    const double dTillerNumber = TillerNumber <= 14000.0
                                     ? (tiller_formation - tiller_death) * leaf_appearance * TillerNumber
                                     : -tiller_death * leaf_appearance * TillerNumber;
    const double dLeafLengthPot = temp - p.TempBase > 0.0 ? 0.83 * std::log(std::max(temp, 2.0)) - 0.8924 : 0.0;
    const double lai_growth_sink = TillerNumber * 1.0e4 * (dLeafLengthPot * 0.3) * 1.0e-8;
    const double growth_sink = dWeightHARV <= 0.0 ? lai_growth_sink / p.SLA / LVfraction : 0.0;
    double growth, dWeightRE;
    if (growth_source < growth_sink) {
      const double from_reserves = std::min(WeightRE, growth_sink - growth_source);
      growth = growth_source + from_reserves;
      dWeightRE = -from_reserves;
    } else {
      dWeightRE = growth_source - growth_sink;
      growth = growth_sink;
    }
    const double LVgrowth = dWeightHARV <= 0.0 ? growth * LVfraction : 0.0;
    const double LVdeath = LAIdeath / SLAINT;
    const double dLAI = growth * LVfraction * p.SLA - LAIdeath;
    const double dLeafLength =
        dWeightHARV > 0.0 ? -LeafLength : (growth_sink > 0.0 ? dLeafLengthPot * growth / growth_sink : 0.0);
    // Report the day, then step.
    out.year.push_back(w.year);
    out.day.push_back(w.day_of_year);
    out.weight_abg.push_back(WeightHARV + WeightLVgreen);
    out.weight_lv_green.push_back(WeightLVgreen);
    out.lai.push_back(LAI);
    out.tillers.push_back(TillerNumber);
    TSUM += dTSUM;
    LAI += dLAI;
    DaysAfterHarvest += dDaysAfterHarvest;
    CuttingNumber += mowing ? 1 : 0;
    TillerNumber += dTillerNumber;
    WeightLVgreen += LVgrowth - LVdeath;
    WeightHARV += dWeightHARV;
    WeightRE += dWeightRE;
    WeightRT += growth * RTfraction;
    LeafLength += dLeafLength;
    SLAINT = LAI / WeightLVgreen;
    DVS = TSUM / p.TSUMmax;
    TemperatureSoil += dTemperatureSoil;
    RD += RR;
  }
  return out;
}

}  // namespace physynth::domains::crop
