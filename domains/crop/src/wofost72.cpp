#include "physynth/domains/crop/wofost72.h"
#include "physynth/core/constants.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include "physynth/domains/crop/astro.h"
#include "physynth/domains/crop/evapotranspiration.h"
#include "physynth/domains/crop/phenology.h"
#include "physynth/domains/crop/water_balance_fd.h"

namespace physynth::domains::crop {

const std::vector<std::string>& Wofost72Day::names() {
  static const std::vector<std::string> n{"DVS",  "LAI",  "RD", "TAGP", "TRA", "TWLV", "TWRT",
                                          "TWSO", "TWST", "SM", "EVS",  "W",   "WLOW", "WWLOW"};
  return n;
}

double Wofost72Day::value(std::size_t i) const {
  const double v[] = {DVS, LAI, RD, TAGP, TRA, TWLV, TWRT, TWSO, TWST, SM, EVS, W, WLOW, WWLOW};
  return v[i];
}

namespace {

constexpr double kGaussX[3] = {0.1127017, 0.5000000, 0.8872983};
constexpr double kGaussW[3] = {0.2777778, 0.4444444, 0.2777778};
constexpr const char* kModel = "WOFOST 7.2";

// Instantaneous gross assimilation of the canopy (kg CO2/ha leaf/h) at one moment of the day:
// sunlit and shaded leaves at three depths (Goudriaan 1986; Spitters 1986).
double canopy_assimilation(double amax, double eff, double lai, double kdif, double sinb, double pardir,
                           double pardif) {
  const double scv = 0.2;  // scattering coefficient of leaves for PAR
  const double refh = (1.0 - std::sqrt(1.0 - scv)) / (1.0 + std::sqrt(1.0 - scv));
  const double refs = refh * 2.0 / (1.0 + 1.6 * sinb);
  const double kdirbl = (0.5 / sinb) * kdif / (0.8 * std::sqrt(1.0 - scv));
  const double kdirt = kdirbl * std::sqrt(1.0 - scv);
  double fgros = 0.0;
  for (int i = 0; i < 3; ++i) {
    const double laic = lai * kGaussX[i];
    const double visdf = (1.0 - refs) * pardif * kdif * std::exp(-kdif * laic);
    const double vist = (1.0 - refs) * pardir * kdirt * std::exp(-kdirt * laic);
    const double visd = (1.0 - scv) * pardir * kdirbl * std::exp(-kdirbl * laic);
    const double visshd = visdf + vist - visd;
    const double fgrsh = amax * (1.0 - std::exp(-visshd * eff / std::max(2.0, amax)));
    const double vispp = (1.0 - scv) * pardir / sinb;
    const double fgrsun =
        vispp <= 0.0
            ? fgrsh
            : amax * (1.0 - (amax - fgrsh) * (1.0 - std::exp(-vispp * eff / std::max(2.0, amax))) / (eff * vispp));
    const double fslla = std::exp(-kdirbl * laic);
    fgros += (fslla * fgrsun + (1.0 - fslla) * fgrsh) * kGaussW[i];
  }
  return fgros * lai;
}

// Daily gross assimilation, kg CO2/ha/d: three moments of the day (Gaussian integration).
double daily_assimilation(const Astro& a, double amax, double eff, double lai, double kdif, double irradiation) {
  if (!(amax > 0.0 && lai > 0.0 && a.day_length_h > 0.0)) return 0.0;
  double dtga = 0.0;
  for (int i = 0; i < 3; ++i) {
    const double hour = 12.0 + 0.5 * a.day_length_h * kGaussX[i];
    const double sinb = std::max(0.0, a.sinld + a.cosld * std::cos(2.0 * kPi * (hour + 12.0) / 24.0));
    const double par = 0.5 * irradiation * sinb * (1.0 + 0.4 * sinb) / a.dsinbe;
    const double pardif = std::min(par, sinb * a.diffuse_pp);
    dtga += canopy_assimilation(amax, eff, lai, kdif, sinb, par - pardif, pardif) * kGaussW[i];
  }
  return dtga * a.day_length_h;
}

struct Params {
  double CVL, CVO, CVR, CVS, Q10, RMR, RML, RMS, RMO, RGRLAI, SPAN, TBASE, PERDL, TDWI, RDI, RRI, RDMCR, RDMSOL, SPA;
  double CFET, DEPNR, IAIRDU, IOX, CRAIRC, SM0, SMW, SMFCF;
  Afgen AMAXTB, EFFTB, KDIFTB, TMPFTB, TMNFTB, RFSETB, FRTB, FLTB, FSTB, FOTB, SLATB, RDRRTB, RDRSTB, SSATB;
  WaterBalanceFDParameters soil;  // water-limited only
  EvapotranspirationParameters et;

  void read(const CropParameters& p, bool water_limited, core::Diagnostics& d) {
    auto n = [&](const char* name) { return p.number(name, kModel, d); };
    auto t = [&](const char* name) { return p.table(name, kModel, d); };
    CVL = n("CVL"), CVO = n("CVO"), CVR = n("CVR"), CVS = n("CVS");
    Q10 = n("Q10"), RMR = n("RMR"), RML = n("RML"), RMS = n("RMS"), RMO = n("RMO");
    RGRLAI = n("RGRLAI"), SPAN = n("SPAN"), TBASE = n("TBASE"), PERDL = n("PERDL"), TDWI = n("TDWI");
    RDI = n("RDI"), RRI = n("RRI"), RDMCR = n("RDMCR"), RDMSOL = n("RDMSOL"), SPA = n("SPA");
    CFET = n("CFET"), DEPNR = n("DEPNR"), IAIRDU = n("IAIRDU"), IOX = n("IOX"), CRAIRC = n("CRAIRC");
    SM0 = n("SM0"), SMW = n("SMW"), SMFCF = n("SMFCF");
    AMAXTB = t("AMAXTB"), EFFTB = t("EFFTB"), KDIFTB = t("KDIFTB"), TMPFTB = t("TMPFTB"), TMNFTB = t("TMNFTB");
    RFSETB = t("RFSETB"), FRTB = t("FRTB"), FLTB = t("FLTB"), FSTB = t("FSTB"), FOTB = t("FOTB");
    SLATB = t("SLATB"), RDRRTB = t("RDRRTB"), RDRSTB = t("RDRSTB"), SSATB = t("SSATB");
    et = {CFET, DEPNR, SMW, SMFCF, KDIFTB};
    if (water_limited) soil.read(p, kModel, d);
  }
};

// The crop: states, and the rates of the current day.
struct Crop {
  const Params& p;
  Phenology pheno;
  double FR = 0, FL = 0, FS = 0, FO = 0;
  std::deque<double> tmin_history;    // newest first, at most 7
  std::deque<double> LV, SLA, LVAGE;  // leaf classes, newest first
  double LASUM = 0, LAIEXP = 0, LAIMAX = 0, LAI = 0, WLV = 0, DWLV = 0, TWLV = 0;
  double WST = 0, DWST = 0, TWST = 0, SAI = 0;
  double RD = 0, RDM = 0, WRT = 0, DWRT = 0, TWRT = 0;
  double WSO = 0, DWSO = 0, TWSO = 0, PAI = 0;
  double TAGP = 0;
  // Rates.
  bool rates_today = false;  // whether the crop computed its rates (and so published TRA) today
  double TRA = 0, TRAMX = 0, EVWMX = 0, EVSMX = 0, RFTRA = 1;
  double GRRT = 0, DRRT = 0, RR = 0, GRST = 0, DRST = 0, GRSO = 0;
  double GRLV = 0, DRLV = 0, FYSAGE = 0, SLAT = 0, GLAIEX = 0;

  explicit Crop(const Params& params) : p(params) {}

  void partition() { FR = p.FRTB(pheno.DVS), FL = p.FLTB(pheno.DVS), FS = p.FSTB(pheno.DVS), FO = p.FOTB(pheno.DVS); }

  void start(bool at_emergence) {
    pheno.start(at_emergence);
    partition();
    RD = p.RDI;
    RDM = std::max(p.RDI, std::min(p.RDMCR, p.RDMSOL));
    WRT = p.TDWI * FR, DWRT = 0, TWRT = WRT;
    WST = p.TDWI * (1 - FR) * FS, DWST = 0, TWST = WST, SAI = WST * p.SSATB(pheno.DVS);
    WSO = p.TDWI * (1 - FR) * FO, DWSO = 0, TWSO = WSO, PAI = WSO * p.SPA;
    const double wlv = p.TDWI * (1 - FR) * FL;
    LV = {wlv}, SLA = {p.SLATB(pheno.DVS)}, LVAGE = {0.0};
    LASUM = LAIEXP = LAIMAX = LV[0] * SLA[0];
    LAI = LASUM + SAI + PAI;
    WLV = wlv, DWLV = 0, TWLV = WLV;
    TAGP = TWLV + TWST + TWSO;
  }

  void zero_rates() {
    rates_today = false;
    TRA = TRAMX = EVWMX = EVSMX = 0.0;
    RFTRA = 1.0;
    GRRT = DRRT = RR = GRST = DRST = GRSO = GRLV = DRLV = FYSAGE = GLAIEX = 0.0;
  }

  void calc_rates(const DailyWeather& w, double latitude, double sm) {
    zero_rates();
    const double temp = 0.5 * (w.tmin_c + w.tmax_c);
    const double dtemp = 0.5 * (temp + w.tmax_c);  // daytime temperature
    pheno.calc_rates(w.day_of_year, latitude, temp);
    if (pheno.stage == CropStage::kEmerging) return;
    rates_today = true;
    const double DVS = pheno.DVS;
    // Gross assimilation (kg CH2O/ha/d), with the 7-day running mean of TMIN.
    tmin_history.push_front(w.tmin_c);
    if (tmin_history.size() > 7) tmin_history.pop_back();
    double tminra = 0.0;
    for (double t : tmin_history) tminra += t;
    tminra /= static_cast<double>(tmin_history.size());
    const Astro a = astro(w.day_of_year, latitude, w.irradiation_j_m2);
    const double amax = p.AMAXTB(DVS) * p.TMPFTB(dtemp);
    const double kdif = p.KDIFTB(DVS);
    const double pgass =
        daily_assimilation(a, amax, p.EFFTB(dtemp), LAI, kdif, w.irradiation_j_m2) * p.TMNFTB(tminra) * 30.0 / 44.0;
    // Evapotranspiration (cm/d).
    const Evapotranspiration et =
        evapotranspiration(p.et, DVS, LAI, sm, w.e0_mm / 10.0, w.es0_mm / 10.0, w.et0_mm / 10.0);
    EVWMX = et.EVWMX, EVSMX = et.EVSMX, TRAMX = et.TRAMX, RFTRA = et.RFTRA, TRA = et.TRA;
    // Carbon: respiration, conversion, partitioning.
    const double gass = pgass * RFTRA;
    double rmres = (p.RMR * WRT + p.RML * WLV + p.RMS * WST + p.RMO * WSO) * p.RFSETB(DVS);
    rmres *= std::pow(p.Q10, (temp - 25.0) / 10.0);
    const double mres = std::min(gass, rmres);
    const double asrc = gass - mres;
    const double cvf = 1.0 / ((FL / p.CVL + FS / p.CVS + FO / p.CVO) * (1.0 - FR) + FR / p.CVR);
    const double dmi = cvf * asrc;
    // Roots.
    GRRT = FR * dmi;
    DRRT = WRT * p.RDRRTB(DVS);
    RR = FR == 0.0 ? 0.0 : std::min(RDM - RD, p.RRI);
    const double admi = (1.0 - FR) * dmi;
    // Stems and storage organs.
    GRST = admi * FS;
    DRST = p.RDRSTB(DVS) * WST;
    GRSO = admi * FO;
    // Leaves.
    GRLV = admi * FL;
    const double dslv1 = WLV * (1.0 - RFTRA) * p.PERDL;
    const double laicr = 3.2 / kdif;
    const double dslv2 = WLV * limit(0.0, 0.03, 0.03 * (LAI - laicr) / laicr);
    const double dslv = std::max(dslv1, dslv2);
    double dalv = 0.0;
    for (std::size_t i = 0; i < LV.size(); ++i)
      if (LVAGE[i] > p.SPAN) dalv += LV[i];
    DRLV = std::max(dslv, dalv);
    FYSAGE = std::max(0.0, (temp - p.TBASE) / (35.0 - p.TBASE));
    SLAT = p.SLATB(DVS);
    if (LAIEXP < 6.0) {
      const double dteff = std::max(0.0, temp - p.TBASE);
      GLAIEX = LAIEXP * p.RGRLAI * dteff;
      const double glasol = GRLV * SLAT;
      const double gla = std::min(GLAIEX, glasol);
      if (GRLV > 0.0) SLAT = gla / GRLV;
    }
  }

  // Euler step; returns true when the crop matures on it.
  bool integrate() {
    const bool emerging = pheno.stage == CropStage::kEmerging;
    const bool matured = pheno.integrate();
    if (emerging) return matured;
    partition();
    WRT += GRRT - DRRT, DWRT += DRRT, TWRT = WRT + DWRT, RD += RR;
    WSO += GRSO, TWSO = WSO + DWSO, PAI = WSO * p.SPA;
    WST += GRST - DRST, DWST += DRST, TWST = WST + DWST, SAI = WST * p.SSATB(pheno.DVS);
    // Leaves: death removes the oldest classes first, then all classes age and a new one is born.
    double remaining = DRLV;
    while (remaining > 0.0 && !LV.empty()) {
      if (remaining >= LV.back()) {
        remaining -= LV.back();
        LV.pop_back(), SLA.pop_back(), LVAGE.pop_back();
      } else {
        LV.back() -= remaining;
        remaining = 0.0;
      }
    }
    for (double& age : LVAGE) age += FYSAGE;
    LV.push_front(GRLV), SLA.push_front(SLAT), LVAGE.push_front(0.0);
    LASUM = 0.0;
    WLV = 0.0;
    for (std::size_t i = 0; i < LV.size(); ++i) LASUM += LV[i] * SLA[i], WLV += LV[i];
    LAI = LASUM + SAI + PAI;
    LAIMAX = std::max(LAI, LAIMAX);
    LAIEXP += GLAIEX;
    DWLV += DRLV;
    TWLV = WLV + DWLV;
    TAGP = TWLV + TWST + TWSO;
    return matured;
  }
};

}  // namespace

std::optional<Wofost72Result> run_wofost72(const CropParameters& params, const CropCalendar& calendar,
                                           const WeatherRecord& weather, const Wofost72Options& options,
                                           core::Diagnostics& diags) {
  const std::size_t errors_before = diags.error_count();
  const bool water_limited = options.water == WaterSupply::kWaterLimited;
  Params p;
  p.read(params, water_limited, diags);
  Crop crop(p);
  crop.pheno.read(params, kModel, diags);
  if (params.has("IOX") && p.IOX != 0.0)
    diags.error({params.description, 0, 0},
                "IOX = " + core::format_number(p.IOX) +
                    ": oxygen-shortage reduction (IOX = 1) is not implemented in this WOFOST 7.2; use IOX = 0");
  const long first = weather.index_of(calendar.start_year, calendar.start_day);
  if (first < 0)
    diags.error({weather.source, 0, 0},
                "the weather does not cover the crop start " + format_date(calendar.start_year, calendar.start_day));
  for (const auto& d : weather.days)
    if (std::isnan(d.e0_mm) || std::isnan(d.es0_mm) || std::isnan(d.et0_mm)) {
      diags.error({weather.source, 0, 0}, "the weather lacks E0, ES0 or ET0 on " + format_date(d.year, d.day_of_year));
      break;
    }
  if (diags.error_count() > errors_before) return std::nullopt;

  const double potential_sm = std::isnan(options.potential_soil_moisture) ? p.SMFCF : options.potential_soil_moisture;
  WaterBalanceFD soil(p.soil);
  double pp_dslr = 1.0, pp_rain_old = 0.0;  // WaterbalancePP's evaporation bookkeeping
  Wofost72Result result;
  crop.start(calendar.start_at_emergence);
  for (long day = 0;; ++day) {
    const long index = first + day;
    if (index >= static_cast<long>(weather.days.size())) {
      diags.error({weather.source, 0, 0}, "the weather ends on " +
                                              format_date(weather.days.back().year, weather.days.back().day_of_year) +
                                              " before the crop does");
      return std::nullopt;
    }
    const DailyWeather& w = weather.days[static_cast<std::size_t>(index)];
    bool matured = false;
    if (day > 0) {
      matured = crop.integrate();
      if (water_limited) soil.integrate(crop.RD);
    }
    std::string finish;
    if (matured && calendar.end != CropEnd::kHarvest) finish = "maturity";
    if (calendar.end != CropEnd::kMaturity && w.year == calendar.end_year && w.day_of_year == calendar.end_day)
      finish = "harvest";
    if (finish.empty() && day == calendar.max_duration) finish = "max_duration";
    const double sm = water_limited ? soil.SM : potential_sm;
    crop.calc_rates(w, weather.latitude_deg, sm);
    double evs;
    if (water_limited) {
      soil.calc_rates(w, {crop.rates_today, crop.TRA, crop.EVWMX, crop.EVSMX}, crop.RD);
      evs = soil.EVS;
    } else {
      const double evsmx = crop.rates_today ? crop.EVSMX : w.es0_mm / 10.0;
      if (pp_rain_old >= 1.0) {
        evs = evsmx;
        pp_dslr = 1.0;
      } else {
        pp_dslr += 1.0;
        evs = evaporation_after_wetting(evsmx, pp_dslr, pp_rain_old);
      }
      pp_rain_old = w.rain_mm / 10.0;
    }
    Wofost72Day out;
    out.year = w.year, out.day = w.day_of_year;
    out.DVS = crop.pheno.DVS, out.LAI = crop.LAI, out.RD = crop.RD, out.TAGP = crop.TAGP, out.TRA = crop.TRA;
    out.TWLV = crop.TWLV, out.TWRT = crop.TWRT, out.TWSO = crop.TWSO, out.TWST = crop.TWST;
    out.SM = sm, out.EVS = evs;
    out.W = water_limited ? soil.W : sm * crop.RD;
    out.WLOW = water_limited ? soil.WLOW : 0.0;
    out.WWLOW = water_limited ? soil.WWLOW : out.W;
    result.days.push_back(out);
    if (!finish.empty()) {
      result.finish = finish;
      return result;
    }
  }
}

}  // namespace physynth::domains::crop
