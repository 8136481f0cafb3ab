using Segmentation.Service.OperatorConsole;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Admin;

public static class AdminApi
{
    /// <summary>Every admin endpoint, behind <see cref="AdminAccess"/>.</summary>
    public static RouteGroupBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var access = app.ServiceProvider.GetRequiredService<AdminAccess>();
        var admin = app.MapGroup("").AddEndpointFilter(access.Filter).AddEndpointFilter(DatabaseUnavailable.Filter);
        admin.MapCustomerEndpoints();
        admin.MapCustomerExplanation();
        admin.MapRulesetEndpoints();
        admin.MapSimulationEndpoints();
        admin.MapConsoleQueries();
        return admin;
    }
}
