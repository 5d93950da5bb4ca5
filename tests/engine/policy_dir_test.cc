// Reading a policy directory: PolicyDirReader and the directory walker, on
// real files where running as root allows it (links, FIFOs) and through
// FaultFileSystem where it does not (unreadable or vanishing directories,
// read errors, endless files, devices).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/file_system.h"
#include "engine/program.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/fault_file_system.h"
#include "tests/engine/test_files.h"

namespace creditd::engine {
namespace {

using ::testing::ElementsAre;
using testing::FaultFileSystem;
using ::testing::HasSubstr;
using testing::MakeDir;
using ::testing::Not;
using testing::Write;

namespace fs = std::filesystem;

void Link(const std::string& target, const std::string& link) {
  std::error_code error;
  fs::create_symlink(target, link, error);
  ASSERT_FALSE(error) << error.message();
}

TEST(PolicyDirReaderTest, ReadsFilesByPathInsideTheDirectory) {
  const std::string dir = MakeDir("inside");
  Write(dir + "/shared/common.credit", "library common\n");
  PolicyDirReader reader(dir);
  EXPECT_EQ(*reader.Read("shared/common.credit"), "library common\n");
  EXPECT_EQ(*reader.Read("./shared/../shared/common.credit"), "library common\n");
  absl::StatusOr<std::string> missing = reader.Read("shared/missing.credit");
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_EQ(missing.status().message(), "there is no file `shared/missing.credit`");
}

TEST(PolicyDirReaderTest, RefusesPathsOutsideByTheirTextAlone) {
  const std::string dir = MakeDir("text");
  Write(dir + "/x.credit", "policy x\n");
  FaultFileSystem fs;
  PolicyDirReader reader(dir, fs);
  for (const std::string path :
       {"../../../../etc/shadow", "/etc/shadow", "/proc/self/environ", "a/../../x.credit", "..",
        "../policy_dir_test_text/x.credit", "/does/not/exist"}) {
    absl::StatusOr<std::string> text = reader.Read(path);
    EXPECT_TRUE(absl::IsPermissionDenied(text.status())) << path;
    // The same message whether the file exists or not, naming nothing but
    // the path as written.
    EXPECT_EQ(text.status().message(), absl::StrCat("`", path, "` ", kOutsidePolicyDirectory));
  }
  EXPECT_THAT(fs.calls(), ::testing::IsEmpty()) << "looked at the disk for a refused path";
  EXPECT_FALSE(reader.Read(std::string("x.credit\0../../etc/shadow", 25)).ok());
}

TEST(PolicyDirReaderTest, RefusesLinksLeadingOutsideTheSameWay) {
  const std::string outside = MakeDir("secret");
  Write(outside + "/secret.credit", "library secret\n");
  const std::string dir = MakeDir("links_out");
  Link(outside + "/secret.credit", dir + "/file.credit");
  Link(outside, dir + "/folder");
  Link("/dev/zero", dir + "/zero.credit");
  Link("/proc/self/environ", dir + "/environ.credit");
  PolicyDirReader reader(dir);
  for (const std::string path :
       {"file.credit", "folder/secret.credit", "zero.credit", "environ.credit"}) {
    absl::StatusOr<std::string> text = reader.Read(path);
    EXPECT_TRUE(absl::IsPermissionDenied(text.status())) << path << ": " << text.status();
    EXPECT_EQ(text.status().message(), absl::StrCat("`", path, "` ", kOutsidePolicyDirectory));
  }
}

TEST(PolicyDirReaderTest, FollowsLinksThatStayInside) {
  // A Kubernetes ConfigMap mount: the visible files are links through
  // `..data` into a timestamped directory.
  const std::string dir = MakeDir("configmap");
  Write(dir + "/..2026_01_01_00_00_00.1/p.credit", "policy p\n");
  Link("..2026_01_01_00_00_00.1", dir + "/..data");
  Link("..data/p.credit", dir + "/p.credit");
  // Reached through a link to the directory itself, too.
  Link(".", dir + "/self");
  PolicyDirReader reader(dir);
  EXPECT_EQ(*reader.Read("p.credit"), "policy p\n");
  EXPECT_EQ(*reader.Read("self/p.credit"), "policy p\n");
}

TEST(PolicyDirReaderTest, ReadsOnlyRegularFiles) {
  const std::string dir = MakeDir("special");
  ASSERT_EQ(mkfifo((dir + "/fifo.credit").c_str(), 0600), 0);
  std::error_code error;
  fs::create_directories(dir + "/folder.credit", error);
  FaultFileSystem faults;
  faults.NotRegular("/device.credit", "a character device");
  Write(dir + "/device.credit", "");
  PolicyDirReader reader(dir, faults);
  // A FIFO with no writer: refused at once, not waited on.
  absl::StatusOr<std::string> fifo = reader.Read("fifo.credit");
  EXPECT_TRUE(absl::IsFailedPrecondition(fifo.status()));
  EXPECT_EQ(fifo.status().message(), "`fifo.credit` is not a regular file: it is a FIFO");
  EXPECT_EQ(reader.Read("folder.credit").status().message(),
            "`folder.credit` is not a regular file: it is a directory");
  EXPECT_EQ(reader.Read("device.credit").status().message(),
            "`device.credit` is not a regular file: it is a character device");
}

TEST(PolicyDirReaderTest, ReadsAtMostOneBytePastTheLimit) {
  const std::string dir = MakeDir("large");
  Write(dir + "/endless.credit", "");
  Write(dir + "/exact.credit", std::string(1000, 'x'));
  Write(dir + "/over.credit", std::string(1001, 'x'));
  FaultFileSystem faults;
  faults.Endless("/endless.credit");
  PolicyDirReader reader(dir, faults, 1000);
  absl::StatusOr<std::string> endless = reader.Read("endless.credit");
  EXPECT_TRUE(absl::IsResourceExhausted(endless.status()));
  EXPECT_EQ(endless.status().message(), "`endless.credit` is larger than 1000 bytes");
  EXPECT_EQ(faults.bytes_read(), 1001u);
  EXPECT_EQ(reader.Read("exact.credit")->size(), 1000u);
  EXPECT_TRUE(absl::IsResourceExhausted(reader.Read("over.credit").status()));
}

TEST(PolicyDirReaderTest, ReadErrorIsAnErrorNotAShortFile) {
  const std::string dir = MakeDir("read_error");
  Write(dir + "/p.credit", std::string(5000, 'x'));
  FaultFileSystem faults;
  faults.FailReadAfter("/p.credit", 100);
  PolicyDirReader reader(dir, faults);
  absl::StatusOr<std::string> text = reader.Read("p.credit");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().message(), "cannot read `p.credit`: read: Input/output error");
  EXPECT_THAT(text.status().message(), Not(HasSubstr(dir)));
}

// A file written while it is read (in place, by an editor or a copy still
// under way) is refused, never taken for the whole.
TEST(PolicyDirReaderTest, FileThatChangesWhileReadIsRefused) {
  const std::string dir = MakeDir("changing");
  Write(dir + "/p.credit", "policy p\n");
  FaultFileSystem faults;
  faults.ChangeWhileRead("/p.credit");
  PolicyDirReader reader(dir, faults);
  absl::StatusOr<std::string> text = reader.Read("p.credit");
  EXPECT_EQ(text.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(text.status().message(),
            absl::StrCat("`p.credit` changed while it was read; ", kChangedWhileRead));
  // Read as a whole from a real file whose size is what was read: fine.
  PolicyDirReader plain(dir);
  EXPECT_EQ(*plain.Read("p.credit"), "policy p\n");
}

// A file that grows while it is read, on the real file system: an appended
// byte after the read shows in its stamp.
TEST(PolicyDirReaderTest, StampShowsAFileWrittenInPlace) {
  const std::string dir = MakeDir("stamp");
  Write(dir + "/p.credit", "policy p\n");
  absl::StatusOr<std::unique_ptr<ReadableFile>> file =
      FileSystem::Default().OpenRegularFile(dir + "/p.credit");
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<FileStamp> before = (*file)->Stamp();
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->size, 9);
  std::ofstream(dir + "/p.credit", std::ios::app) << "# more\n";
  absl::StatusOr<FileStamp> after = (*file)->Stamp();
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, *before);
  EXPECT_EQ(after->size, 16);
}

TEST(PolicyDirReaderTest, MessagesNeverNameTheDirectory) {
  const std::string dir = MakeDir("quiet");
  PolicyDirReader reader(dir);
  EXPECT_THAT(reader.Read("x.credit").status().message(), Not(HasSubstr(dir)));
  PolicyDirReader gone(dir + "/gone");
  EXPECT_THAT(gone.Read("x.credit").status().message(), Not(HasSubstr("gone")));
}

TEST(DiskFileReaderTest, ReadsRegularFilesThroughLinksOnly) {
  const std::string dir = MakeDir("disk");
  Write(dir + "/p.credit", "policy p\n");
  Link(dir + "/p.credit", dir + "/link.credit");
  ASSERT_EQ(mkfifo((dir + "/fifo.credit").c_str(), 0600), 0);
  DiskFileReader reader;
  EXPECT_EQ(*reader.Read(dir + "/link.credit"), "policy p\n");
  EXPECT_TRUE(absl::IsFailedPrecondition(reader.Read(dir + "/fifo.credit").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(reader.Read("/dev/zero").status()));
  EXPECT_TRUE(absl::IsNotFound(reader.Read(dir + "/missing.credit").status()));
}

TEST(WalkTreeTest, ListsEverythingSortedSkippingHiddenNames) {
  const std::string dir = MakeDir("walk");
  Write(dir + "/b.credit", "");
  Write(dir + "/a/z.credit", "");
  Write(dir + "/.git/config", "");
  Write(dir + "/.swap.credit", "");
  Link("a", dir + "/link");
  absl::StatusOr<Tree> tree = WalkTree(FileSystem::Default(), dir);
  ASSERT_TRUE(tree.ok()) << tree.status();
  std::vector<std::string> paths;
  for (const TreeEntry& e : tree->entries) paths.push_back(e.path);
  // The link to a directory is listed, not followed.
  EXPECT_THAT(paths, ElementsAre("a", "a/z.credit", "b.credit", "link"));
  EXPECT_EQ(tree->entries[3].type, FileType::kSymlink);
  EXPECT_TRUE(tree->problems.empty());
}

TEST(WalkTreeTest, LinkLoopsEndTheWalk) {
  const std::string dir = MakeDir("loop");
  Write(dir + "/a/p.credit", "");
  Link("..", dir + "/a/up");
  Link("loop2", dir + "/loop1");
  Link("loop1", dir + "/loop2");
  absl::StatusOr<Tree> tree = WalkTree(FileSystem::Default(), dir);
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ(tree->entries.size(), 5u);
}

TEST(WalkTreeTest, EveryDirectoryThatCannotBeListedIsAProblem) {
  const std::string dir = MakeDir("unreadable");
  Write(dir + "/ok/p.credit", "");
  Write(dir + "/locked/q.credit", "");
  Write(dir + "/gone/r.credit", "");
  FaultFileSystem faults;
  faults.FailList("/locked", absl::PermissionDeniedError("open the directory: Permission denied"));
  faults.FailList("/gone", absl::NotFoundError("open the directory: No such file or directory"));
  absl::StatusOr<Tree> tree = WalkTree(faults, dir);
  ASSERT_TRUE(tree.ok()) << tree.status();
  ASSERT_EQ(tree->problems.size(), 2u);
  std::vector<std::string> messages;
  for (const absl::Status& p : tree->problems) messages.push_back(std::string(p.message()));
  std::sort(messages.begin(), messages.end());
  EXPECT_EQ(messages[0],
            "cannot list the directory `gone`: open the directory: No such file or directory");
  EXPECT_EQ(messages[1],
            "cannot list the directory `locked`: open the directory: Permission denied");
  // The root itself: the walk cannot run.
  EXPECT_TRUE(absl::IsNotFound(WalkTree(FileSystem::Default(), dir + "/none").status()));
}

TEST(LatestChangeTest, SeesChangesBelowTheRootAndEveryError) {
  const std::string dir = MakeDir("latest");
  Write(dir + "/a/p.credit", "");
  absl::StatusOr<absl::Time> before = LatestChange(FileSystem::Default(), dir);
  ASSERT_TRUE(before.ok()) << before.status();
  const std::string file = dir + "/a/p.credit";
  struct timespec times[2] = {{0, UTIME_NOW}, {4102444800, 0}};  // 2100-01-01
  ASSERT_EQ(utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  absl::StatusOr<absl::Time> after = LatestChange(FileSystem::Default(), dir);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, absl::FromUnixSeconds(4102444800));
  FaultFileSystem faults;
  faults.FailList("/a", absl::UnavailableError("read the directory: Input/output error"));
  EXPECT_FALSE(LatestChange(faults, dir).ok());
  EXPECT_TRUE(absl::IsNotFound(LatestChange(FileSystem::Default(), dir + "/none").status()));
}

}  // namespace
}  // namespace creditd::engine
