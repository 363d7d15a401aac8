using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace XTuner.Core
{
    /// <summary>
    /// Builds <c>ProcessStartInfo.Arguments</c> (netstandard2.0 has no ArgumentList). .NET splits that string by the
    /// Windows command-line rules on every OS: whitespace separates arguments outside double quotes, and a backslash is
    /// literal unless it precedes a double quote, where 2n backslashes give n and a delimiter, 2n+1 give n and a quote.
    /// </summary>
    public static class ProcessArguments
    {
        /// <summary>The arguments joined so that the child process receives each one exactly as given.</summary>
        public static string Join(IEnumerable<string> arguments) => string.Join(" ", arguments.Select(Quote));

        /// <summary>One argument as the command-line parser gives it back unchanged: bare when it can be, else quoted.</summary>
        public static string Quote(string argument)
        {
            if (argument.Length > 0 && !argument.Any(c => char.IsWhiteSpace(c) || c == '"')) return argument;
            var sb = new StringBuilder(argument.Length + 2).Append('"');
            int backslashes = 0;
            foreach (var c in argument)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }
                // Backslashes before a quote are halved by the parser, so they go in doubled, plus one for the quote.
                if (c == '"') sb.Append('\\', 2 * backslashes + 1);
                else sb.Append('\\', backslashes);
                backslashes = 0;
                sb.Append(c);
            }
            // The closing quote follows the trailing backslashes: they are doubled too.
            return sb.Append('\\', 2 * backslashes).Append('"').ToString();
        }
    }
}
