using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Segmentation.Service.Admin;

/// <summary>
/// Who may use the admin API. With <c>Admin:ApiKey</c> set, every request must present it in <c>X-Api-Key</c>,
/// except reads (GET) from loopback. Without a key, only loopback is served: safe by default on a developer
/// machine, and a deployment must choose a key to open the API to the network.
/// </summary>
public static class AdminAccess
{
    public const string ApiKeyHeader = "X-Api-Key";

    public static RouteGroupBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("").AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var configuredKey = http.RequestServices.GetRequiredService<IConfiguration>()["Admin:ApiKey"];
            return Allows(http.Request.Method, http.Connection.RemoteIpAddress, http.Request.Headers[ApiKeyHeader].FirstOrDefault(), configuredKey)
                ? await next(context)
                : Results.Json(new { error = $"admin API: present the key in {ApiKeyHeader} (reads are open on loopback only)" },
                    statusCode: StatusCodes.Status401Unauthorized);
        });
        admin.MapCustomerEndpoints();
        admin.MapRulesetEndpoints();
        admin.MapSimulationEndpoints();
        return admin;
    }

    public static bool Allows(string method, IPAddress? remote, string? presentedKey, string? configuredKey)
    {
        var fromLoopback = remote is not null && IPAddress.IsLoopback(remote);
        return string.IsNullOrEmpty(configuredKey)
            ? fromLoopback
            : KeyMatches(presentedKey, configuredKey) || (HttpMethods.IsGet(method) && fromLoopback);
    }

    private static bool KeyMatches(string? presented, string configured) =>
        presented is not null
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(configured));
}
