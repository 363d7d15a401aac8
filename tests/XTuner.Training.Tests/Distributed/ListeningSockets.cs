using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;

namespace XTuner.Training.Tests.Distributed
{
    /// <summary>
    /// The IPv4 addresses a process listens on: its sockets (/proc/PID/fd) matched with the LISTEN rows of
    /// /proc/PID/net/tcp, which lists every socket of the network namespace. What an attacker on the host could find.
    /// </summary>
    internal static class ListeningSockets
    {
        public static IReadOnlyList<IPEndPoint> Of(int pid)
        {
            var inodes = new HashSet<string>();
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                try
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target != null && target.StartsWith("socket:[", StringComparison.Ordinal)) inodes.Add(target.Substring(8, target.Length - 9));
                }
                catch (IOException)
                {
                    // closed meanwhile
                }
            }
            return File.ReadAllLines($"/proc/{pid}/net/tcp").Skip(1)
                .Select(row => row.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(cols => cols.Length > 9 && cols[3] == "0A" && inodes.Contains(cols[9]))
                .Select(cols => cols[1].Split(':'))
                .Select(local => new IPEndPoint(new IPAddress(BitConverter.GetBytes(uint.Parse(local[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture))),
                    int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture)))
                .ToList();
        }
    }
}
