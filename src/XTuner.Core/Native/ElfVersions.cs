using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace XTuner.Core.Native
{
    /// <summary>
    /// Reads and edits the symbol-version tables of a 64-bit little-endian ELF shared library: the versions it
    /// defines (.gnu.version_d) and the versions it needs from other libraries (.gnu.version_r).
    /// </summary>
    public sealed class ElfVersions
    {
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        /// <summary>VER_FLG_WEAK: a missing version is tolerated by the dynamic loader instead of failing the load.</summary>
        public const ushort WeakFlag = 0x2;

        private readonly byte[] _bytes;

        private ElfVersions(byte[] bytes, string path)
        {
            _bytes = bytes;
            Path = path;
            if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
                throw new InvalidDataException($"'{path}' is not an ELF file.");
            if (bytes[4] != 2 || bytes[5] != 1)
                throw new InvalidDataException($"'{path}' is not a 64-bit little-endian ELF file.");
            Read();
        }

        public string Path { get; }

        /// <summary>Version names the library defines (e.g. GLIBCXX_3.4.30 for libstdc++).</summary>
        public List<string> Defined { get; } = new List<string>();

        /// <summary>Versions the library needs: (library, version, flags, byte offset of the flags field).</summary>
        public List<VersionNeed> Needed { get; } = new List<VersionNeed>();

        public static ElfVersions Load(string path) => new ElfVersions(File.ReadAllBytes(path), path);

        private void Read()
        {
            long shoff = (long)U64(0x28);
            int shentsize = U16(0x3A), shnum = U16(0x3C);
            for (int i = 0; i < shnum; i++)
            {
                long sh = shoff + (long)i * shentsize;
                uint type = U32(sh + 4);
                if (type != ShtGnuVerdef && type != ShtGnuVerneed) continue;
                long offset = (long)U64(sh + 24);
                uint link = U32(sh + 40), count = U32(sh + 44);
                long strtab = (long)U64(shoff + (long)link * shentsize + 24);
                if (type == ShtGnuVerdef) ReadVerdef(offset, count, strtab);
                else ReadVerneed(offset, count, strtab);
            }
        }

        private void ReadVerdef(long at, uint count, long strtab)
        {
            for (uint n = 0; n < count; n++)
            {
                // Elf64_Verdef: version(2) flags(2) ndx(2) cnt(2) hash(4) aux(4) next(4); the first Verdaux names it.
                uint aux = U32(at + 12), next = U32(at + 16);
                Defined.Add(Str(strtab + U32(at + aux)));
                if (next == 0) break;
                at += next;
            }
        }

        private void ReadVerneed(long at, uint count, long strtab)
        {
            for (uint n = 0; n < count; n++)
            {
                // Elf64_Verneed: version(2) cnt(2) file(4) aux(4) next(4)
                int cnt = U16(at + 2);
                string file = Str(strtab + U32(at + 4));
                long aux = at + U32(at + 8);
                for (int k = 0; k < cnt; k++)
                {
                    // Elf64_Vernaux: hash(4) flags(2) other(2) name(4) next(4)
                    Needed.Add(new VersionNeed(file, Str(strtab + U32(aux + 8)), U16(aux + 4), aux + 4));
                    uint nextAux = U32(aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = U32(at + 12);
                if (next == 0) break;
                at += next;
            }
        }

        /// <summary>
        /// Marks the needed version weak and writes the library back through a temporary file and a rename, so a
        /// hard link (e.g. into the NuGet cache) is replaced rather than changed. Returns false if it already was weak.
        /// </summary>
        public bool MarkWeak(string version)
        {
            bool changed = false;
            foreach (var need in Needed)
            {
                if (need.Version != version || (need.Flags & WeakFlag) != 0) continue;
                var flags = (ushort)(need.Flags | WeakFlag);
                _bytes[need.FlagsOffset] = (byte)(flags & 0xff);
                _bytes[need.FlagsOffset + 1] = (byte)(flags >> 8);
                changed = true;
            }
            if (!changed) return false;
            var tmp = Path + ".xtuner-tmp";
            File.WriteAllBytes(tmp, _bytes);
            File.Delete(Path);
            File.Move(tmp, Path);
            return true;
        }

        private ushort U16(long o) => BitConverter.ToUInt16(_bytes, (int)o);

        private uint U32(long o) => BitConverter.ToUInt32(_bytes, (int)o);

        private ulong U64(long o) => BitConverter.ToUInt64(_bytes, (int)o);

        private string Str(long o)
        {
            int end = (int)o;
            while (end < _bytes.Length && _bytes[end] != 0) end++;
            return Encoding.ASCII.GetString(_bytes, (int)o, end - (int)o);
        }
    }

    /// <summary>One version a library needs from another.</summary>
    public sealed class VersionNeed
    {
        public VersionNeed(string library, string version, ushort flags, long flagsOffset)
        {
            Library = library;
            Version = version;
            Flags = flags;
            FlagsOffset = flagsOffset;
        }

        public string Library { get; }

        public string Version { get; }

        public ushort Flags { get; }

        public long FlagsOffset { get; }

        public bool IsWeak => (Flags & ElfVersions.WeakFlag) != 0;
    }
}
