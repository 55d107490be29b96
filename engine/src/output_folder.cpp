#include "physynth/engine/output_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace physynth::engine {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMetaDir = ".physynth";

fs::path canonical_of(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) p = fs::absolute(path).lexically_normal();
  return p;
}

// `inner` relative to `outer` when it lies inside it, else empty.
std::string inside(const fs::path& outer, const fs::path& inner) {
  const fs::path rel = inner.lexically_relative(outer);
  if (rel.empty()) return "";
  const std::string s = rel.generic_string();
  if (s == "." || s.rfind("..", 0) == 0) return "";
  return s;
}

// The files of a physynth run, fit or collapse folder written before the ledger existed: the
// names physynth writes at the top and the data files its manifest lists.
// Whether `path` is a JSON file physynth wrote before folders had a ledger: its "format" is
// physynth-... (a run's manifest, a collapse, a journal), or it is an anchor's fit.json (scenario,
// data, log_likelihood and starts). A user's file of the same name is not.
bool physynth_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return false;
  try {
    nlohmann::json j;
    if (!(in >> j) || !j.is_object()) return false;
    if (j.contains("format") && j["format"].is_string() && j["format"].get<std::string>().rfind("physynth-", 0) == 0)
      return true;
    return j.contains("scenario") && j.contains("data") && j.contains("log_likelihood") && j.contains("starts");
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> legacy_entries(const fs::path& dir) {
  std::error_code ec;
  bool physynth = false;
  for (const char* marker : {"manifest.json", "fit.json", "collapse.json", "journal/run.json"})
    physynth = physynth || (fs::is_regular_file(dir / marker, ec) && physynth_json(dir / marker));
  std::vector<std::string> out;
  if (!physynth) return out;
  for (const char* name : {"manifest.json", "audit.json", "pinn_audit.csv", "report.html", "fidelity_audit.json",
                           "fidelity_audit.md", "fit.json", "calibrated.yaml", "residuals.csv", "fidelity.md",
                           "collapse.json", "collapse.csv", "collapse.md", "journal/run.json"})
    if (fs::exists(dir / name, ec)) out.push_back(name);
  for (const char* name : {"plots/", "vtk/"})
    if (fs::is_directory(dir / name, ec))
      for (const auto& e : fs::recursive_directory_iterator(dir / name, ec))
        if (e.is_regular_file(ec)) out.push_back(fs::path(e.path()).lexically_relative(dir).generic_string());
  std::ifstream in(dir / "manifest.json");
  try {
    nlohmann::json m;
    if (in >> m)
      for (const auto& sh : m.value("shards", nlohmann::json::array()))
        for (const auto& f : sh.value("files", nlohmann::json::array())) out.push_back(f.value("path", ""));
  } catch (const std::exception&) {  // an unreadable manifest lists nothing
  }
  if (fs::is_directory(dir / "journal", ec))
    for (const auto& e : fs::directory_iterator(dir / "journal", ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("shard-", 0) == 0 && e.path().extension() == ".json") out.push_back("journal/" + n);
    }
  return out;
}

}  // namespace

struct OutputFolder::Impl {
  fs::path dir;
  std::string shown;      // as the user named it
  std::string canonical;  // dir as text, for matching paths without a syscall per write
  int lock_fd = -1;
  std::mutex mutex;
  std::vector<std::string> entries;  // in the order recorded
  std::set<std::string> listed;

  fs::path ledger_path() const { return dir / kMetaDir / "files"; }

  void append(const std::string& rel) {
    if (!listed.insert(rel).second) return;
    entries.push_back(rel);
    const std::string line = rel + "\n";
    const int fd = ::open(ledger_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      const int err = errno;
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("cannot record " + rel + " in " + ledger_path().string() + ": " + std::strerror(err));
    }
    ::close(fd);
  }

  void rewrite_ledger() {
    std::string text;
    for (const auto& e : entries) text += e + "\n";
    const fs::path tmp = ledger_path().string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << text;
      if (!out) throw std::runtime_error("cannot write " + tmp.string());
    }
    fs::rename(tmp, ledger_path());
  }

  // Removes one entry's file (or nested folder's physynth files); true when something went.
  bool remove_entry(const std::string& rel);
};

namespace {

std::mutex g_registry_mutex;
std::vector<std::weak_ptr<OutputFolder>>& registry() {
  static std::vector<std::weak_ptr<OutputFolder>> r;
  return r;
}

// The held folder that contains `p` most closely, with p's path relative to it.
std::shared_ptr<OutputFolder> holder_of(const fs::path& p, std::string* rel) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  std::shared_ptr<OutputFolder> best;
  std::size_t best_len = 0;
  for (const auto& w : registry())
    if (auto f = w.lock()) {
      const fs::path d = f->canonical_directory();
      const std::string r = inside(d, p);
      if (!r.empty() && d.string().size() >= best_len) {
        best = f;
        best_len = d.string().size();
        *rel = r;
      }
    }
  return best;
}

}  // namespace

bool OutputFolder::Impl::remove_entry(const std::string& rel) {
  std::error_code ec;
  const fs::path p = dir / rel;
  if (!rel.empty() && rel.back() == '/') {
    if (!fs::is_directory(p, ec)) return false;
    if (fs::exists(p / kMetaDir, ec)) {
      // A nested output folder physynth made: its own physynth files, then the folder if empty.
      try {
        auto nested = OutputFolder::take(p.string(), "--overwrite", true);
        nested->remove_physynth_files();
      } catch (const std::exception&) {
        return false;  // held by another process, or unreadable: left as it is
      }
      fs::remove(p / kMetaDir / "lock", ec);
      fs::remove(p / kMetaDir / "files", ec);
      fs::remove(p / kMetaDir, ec);
    }
    return fs::remove(p, ec);  // only when empty
  }
  fs::remove(p.string() + ".partial", ec);
  return fs::remove(p, ec);
}

OutputFolder::OutputFolder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OutputFolder::~OutputFolder() {
  if (impl_ && impl_->lock_fd >= 0) ::close(impl_->lock_fd);  // releases the flock
}

std::shared_ptr<OutputFolder> OutputFolder::take(const std::string& directory, const std::string& command,
                                                 bool allow_foreign) {
  const fs::path dir = canonical_of(directory);
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto& reg = registry();
    reg.erase(std::remove_if(reg.begin(), reg.end(), [](const auto& w) { return w.expired(); }), reg.end());
    for (const auto& w : reg)
      if (auto f = w.lock(); f && fs::path(f->canonical_directory()) == dir) return f;
  }
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw FolderRefused("output path '" + directory + "' exists and is not a directory");
  if (!fs::exists(dir, ec)) {
    // A folder made inside a held one is that folder's (a collapse's gen-k/, a run's plots/).
    std::string rel;
    if (auto parent = holder_of(dir, &rel)) parent->record(dir.string() + "/");
    fs::create_directories(dir, ec);
    if (ec) throw IoError("cannot create output directory '" + directory + "': " + ec.message());
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->shown = directory;
  impl->canonical = dir.string();
  const bool had_meta = fs::exists(dir / kMetaDir, ec);
  fs::create_directories(dir / kMetaDir, ec);
  const fs::path lock_path = dir / kMetaDir / "lock";
  impl->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->lock_fd < 0)
    throw IoError("cannot open " + lock_path.string() + " to lock the output folder: " + std::strerror(errno));
  if (::flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder;
    std::ifstream in(lock_path);
    std::getline(in, holder);
    ::close(impl->lock_fd);
    impl->lock_fd = -1;
    if (err == EWOULDBLOCK)
      throw FolderBusy("output folder '" + directory + "' is being written by another physynth process" +
                       (holder.empty() ? std::string() : " (" + holder + ")") +
                       "; wait for it to finish, or choose another folder with -o");
    throw IoError("cannot lock " + lock_path.string() + ": " + std::strerror(err));
  }
  const std::string me = "pid " + std::to_string(::getpid()) + ", physynth " + command + "\n";
  if (::ftruncate(impl->lock_fd, 0) != 0 || ::pwrite(impl->lock_fd, me.data(), me.size(), 0) < 0) {
    // The lock holds without the note; the message a second writer gets just names no process.
  }
  // The ledger, or what a folder written before it existed holds.
  if (std::ifstream in(impl->ledger_path()); in) {
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && impl->listed.insert(line).second) impl->entries.push_back(line);
  } else {
    for (const auto& e : legacy_entries(dir)) impl->append(e);
  }
  std::shared_ptr<OutputFolder> folder(new OutputFolder(std::move(impl)));
  if (!allow_foreign && !folder->has_physynth_output()) {
    std::vector<std::string> foreign = folder->foreign_files(1000);
    if (!foreign.empty()) {
      if (!had_meta) {  // leave the user's folder as it was
        folder.reset();
        fs::remove(dir / kMetaDir / "lock", ec);
        fs::remove(dir / kMetaDir / "files", ec);
        fs::remove(dir / kMetaDir, ec);
      }
      throw FolderRefused("output folder '" + directory + "' holds files physynth did not write (" +
                          few_names(foreign, foreign.size()) +
                          ") and no physynth output; physynth never replaces or removes them, even with "
                          "--overwrite: choose an empty or new folder with -o");
    }
  }
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  registry().push_back(folder);
  return folder;
}

const std::string& OutputFolder::directory() const { return impl_->shown; }
const std::string& OutputFolder::canonical_directory() const { return impl_->canonical; }

bool OutputFolder::has_physynth_output() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return !impl_->entries.empty();
}

std::vector<std::string> OutputFolder::foreign_files(std::size_t limit) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<std::string> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(impl_->dir, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path rel = it->path().lexically_relative(impl_->dir);
    const std::string r = rel.generic_string();
    if (it->is_directory(ec)) {
      // Our own metadata, and nested output folders (they answer for themselves).
      if (rel.filename() == kMetaDir || fs::exists(it->path() / kMetaDir, ec)) it.disable_recursion_pending();
      continue;
    }
    if (impl_->listed.count(r)) continue;
    if (r.size() > 8 && r.compare(r.size() - 8, 8, ".partial") == 0 && impl_->listed.count(r.substr(0, r.size() - 8)))
      continue;
    out.push_back(r);
  }
  std::sort(out.begin(), out.end());
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::size_t OutputFolder::remove_physynth_files() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::size_t removed = 0;
  // Files first, then folders deepest first, so a folder physynth made goes once it is empty.
  std::vector<std::string> dirs;
  for (const auto& e : impl_->entries) {
    if (!e.empty() && e.back() == '/')
      dirs.push_back(e);
    else if (impl_->remove_entry(e))
      ++removed;
  }
  // Folders that held listed files and are empty now (plots/, vtk/, journal/ ...).
  std::set<std::string> parents;
  for (const auto& e : impl_->entries)
    for (fs::path p = fs::path(e).parent_path(); !p.empty(); p = p.parent_path()) parents.insert(p.generic_string() + "/");
  for (const auto& p : parents) dirs.push_back(p);
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  for (const auto& d : dirs)
    if (impl_->remove_entry(d)) ++removed;
  impl_->entries.clear();
  impl_->listed.clear();
  impl_->rewrite_ledger();
  return removed;
}

bool OutputFolder::remove_physynth_path(const std::string& relative) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const bool folder = !relative.empty() && relative.back() == '/';
  std::vector<std::string> kept, gone;
  for (const auto& e : impl_->entries)
    (e == relative || (folder && e.rfind(relative, 0) == 0) ? gone : kept).push_back(e);
  if (gone.empty()) return false;
  for (const auto& e : gone)
    if (e != relative) impl_->remove_entry(e);
  std::error_code ec;
  if (folder)
    fs::remove(impl_->dir / relative, ec);  // only when empty: a user's file in it keeps it
  else
    impl_->remove_entry(relative);
  impl_->entries = kept;
  impl_->listed = std::set<std::string>(kept.begin(), kept.end());
  impl_->rewrite_ledger();
  return true;
}

void OutputFolder::remove_partial_files() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::error_code ec;
  for (const auto& e : impl_->entries) fs::remove(impl_->dir / (e + ".partial"), ec);
}

bool OutputFolder::lists(const std::string& relative) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->listed.count(relative) > 0;
}

void OutputFolder::record(const std::string& path) {
  const bool folder = !path.empty() && path.back() == '/';
  std::string rel = inside(impl_->dir, canonical_of(folder ? path.substr(0, path.find_last_not_of('/') + 1) : path));
  if (rel.empty()) return;
  if (folder) rel += "/";
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->append(rel);
}

void note_output_file(const std::string& path) {
  const fs::path p = canonical_of(path);
  std::string rel;
  auto folder = holder_of(p, &rel);
  if (!folder || rel.rfind(kMetaDir, 0) == 0) return;
  const fs::path root = folder->canonical_directory();
  // Folders on the way that do not exist yet are physynth's, made here.
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path d = p.parent_path(); d != root && !d.empty() && d != d.parent_path(); d = d.parent_path())
    if (!fs::exists(d, ec)) missing.push_back(d);
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) folder->record(it->string() + "/");
  if (fs::exists(p, ec) && !fs::is_directory(p, ec) && !folder->lists(p.lexically_relative(root).generic_string()))
    throw FolderRefused("physynth would replace '" + p.string() + "', which it did not write; move it away or " +
                        "choose another folder");
  folder->record(p.string());
  if (!missing.empty()) fs::create_directories(p.parent_path(), ec);
}

std::string few_names(const std::vector<std::string>& names, std::size_t total, std::size_t shown) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < shown; ++i) s += (i ? ", " : "") + names[i];
  if (total > shown) s += " and " + std::to_string(total - shown) + " more";
  return s;
}

}  // namespace physynth::engine
