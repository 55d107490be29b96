#include "physynth/domains/crop/phenology.h"

namespace physynth::domains::crop {

void Phenology::read(const CropParameters& p, const std::string& model, core::Diagnostics& diags) {
  TSUMEM = p.number("TSUMEM", model, diags);
  TBASEM = p.number("TBASEM", model, diags);
  TEFFMX = p.number("TEFFMX", model, diags);
  TSUM1 = p.number("TSUM1", model, diags);
  TSUM2 = p.number("TSUM2", model, diags);
  IDSL = p.number("IDSL", model, diags);
  DLO = p.number("DLO", model, diags);
  DLC = p.number("DLC", model, diags);
  DVSI = p.number("DVSI", model, diags);
  DVSEND = p.number("DVSEND", model, diags);
  DTSMTB = p.table("DTSMTB", model, diags);
  if (IDSL >= 2) {
    VERNSAT = p.number("VERNSAT", model, diags);
    VERNBASE = p.number("VERNBASE", model, diags);
    VERNDVS = p.number("VERNDVS", model, diags);
    VERNRTB = p.table("VERNRTB", model, diags);
  }
}

void Phenology::start(bool at_emergence) {
  stage = at_emergence ? CropStage::kVegetative : CropStage::kEmerging;
  DVS = at_emergence ? DVSI : -0.1;
  TSUM = TSUME = VERN = 0.0;
  vernalised = force_vernalisation = false;
}

Phenology::Rates Phenology::rates(int doy, double latitude_deg, double temp) const {
  Rates r;
  double dvred = 1.0;
  if (IDSL >= 1) dvred = limit(0.0, 1.0, (day_length(doy, latitude_deg) - DLC) / (DLO - DLC));
  if (IDSL >= 2 && stage == CropStage::kVegetative && !vernalised) {
    if (DVS < VERNDVS) {
      r.VERNR = VERNRTB(temp);
      r.VERNFAC = limit(0.0, 1.0, (VERN - VERNBASE) / (VERNSAT - VERNBASE));
    } else {
      r.force_vernalisation = true;  // the critical stage passed: vernalisation is deemed complete
    }
  }
  switch (stage) {
    case CropStage::kEmerging:
      r.DTSUME = limit(0.0, TEFFMX - TBASEM, temp - TBASEM);
      r.DVR = 0.1 * r.DTSUME / TSUMEM;
      break;
    case CropStage::kVegetative:
      r.DTSUM = DTSMTB(temp) * r.VERNFAC * dvred;
      r.DVR = r.DTSUM / TSUM1;
      break;
    case CropStage::kReproductive:
      r.DTSUM = DTSMTB(temp);
      r.DVR = r.DTSUM / TSUM2;
      break;
    case CropStage::kMature:
      break;
  }
  return r;
}

void Phenology::calc_rates(int doy, double latitude_deg, double temp) {
  const Rates r = rates(doy, latitude_deg, temp);
  DTSUME = r.DTSUME, DTSUM = r.DTSUM, DVR = r.DVR, VERNR = r.VERNR, VERNFAC = r.VERNFAC;
  if (r.force_vernalisation) force_vernalisation = true;
}

bool Phenology::integrate() {
  if (IDSL >= 2 && stage == CropStage::kVegetative) {
    VERN += VERNR;
    if (VERN >= VERNSAT || force_vernalisation) vernalised = true;
  }
  TSUME += DTSUME;
  DVS += DVR;
  TSUM += DTSUM;
  return advance_stage();
}

bool Phenology::advance_stage() {
  switch (stage) {
    case CropStage::kEmerging:
      if (DVS >= 0.0) {
        stage = CropStage::kVegetative;
        DVS = 0.0;
      }
      break;
    case CropStage::kVegetative:
      if (DVS >= 1.0) {
        stage = CropStage::kReproductive;
        DVS = 1.0;
      }
      break;
    case CropStage::kReproductive:
      if (DVS >= DVSEND) {
        stage = CropStage::kMature;
        DVS = DVSEND;
        return true;
      }
      break;
    case CropStage::kMature:
      break;
  }
  return false;
}

}  // namespace physynth::domains::crop
