// Removes the converter's temporary files when the process is interrupted (SIGINT, SIGTERM,
// SIGHUP), so Ctrl-C never leaves a partial file behind: the output being written, and the
// 8-bit copy calibration runs while the final file is written. A few files at a time.
#pragma once

#include <string>

namespace smoe::convert {

void install_interrupt_cleanup();
// Throws smoe::Error when every slot is taken or the path is too long to keep.
void register_temporary_file(const std::string& path);
void unregister_temporary_file(const std::string& path);

}  // namespace smoe::convert
