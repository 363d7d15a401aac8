namespace XTuner.BuildTools { internal static class HelpWriter { public static void Write(string a, string x, string o) => throw new System.NotImplementedException(); } }
